package front

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"slices"
)

// Check is `config check --connect` for Front: it calls GET /me to
// verify the API token, then looks up every teammate and inbox that
// front.assignees names. It returns the company's name and, for each
// thing that would keep the bot from working, one sentence naming it.
func (c *Client) Check(ctx context.Context) (company string, problems []string) {
	var me struct {
		ID   string `json:"id"`
		Name string `json:"name"`
	}
	if err := c.do(ctx, http.MethodGet, "/me", nil, &me); err != nil {
		return "", []string{fmt.Sprintf("cannot use the API token: %v", err)}
	}
	names := make([]string, 0, len(c.cfg.Assignees))
	for n := range c.cfg.Assignees {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		id := c.cfg.Assignees[n]
		var path, what string
		switch {
		case isInboxID(id):
			path, what = "/inboxes/"+url.PathEscape(id), "inbox"
		case isTeammateID(id):
			path, what = "/teammates/"+url.PathEscape(id), "teammate"
		default:
			problems = append(problems, fmt.Sprintf("assignees.%s: %q is neither a teammate (tea_…, alt:email:…) nor an inbox (inb_…) ID", n, id))
			continue
		}
		if err := c.do(ctx, http.MethodGet, path, nil, nil); err != nil {
			if isStatus(err, http.StatusNotFound) {
				problems = append(problems, fmt.Sprintf("assignees.%s: %s %s does not exist or the token cannot see it", n, what, id))
			} else {
				problems = append(problems, fmt.Sprintf("assignees.%s: cannot look up %s %s: %v", n, what, id, err))
			}
		}
	}
	if err := list(ctx, c, "/tags", func(tag) bool { return false }); err != nil {
		problems = append(problems, fmt.Sprintf("cannot list tags (front.tag needs the tags scope): %v", err))
	}
	return me.Name, problems
}
