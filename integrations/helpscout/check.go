package helpscout

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
)

// Check is `config check --connect` for Help Scout: it fetches a token
// with the app's credentials, reads the user they belong to (a cheap
// authenticated call), and checks that every configured inbox, assignee
// and the note user exist, naming what is missing. Tags need no check:
// Help Scout creates a tag the first time a conversation gets it. It
// returns who the credentials belong to, and the problems found.
func (h *Helpdesk) Check(ctx context.Context) (who string, problems []string) {
	var me struct {
		ID        int    `json:"id"`
		FirstName string `json:"firstName"`
		LastName  string `json:"lastName"`
		Email     string `json:"email"`
	}
	if _, err := h.call(ctx, http.MethodGet, "users/me", nil, &me); err != nil {
		return "", []string{fmt.Sprintf("credentials: %v (check helpscout.app_id and app_secret: Your Profile → My Apps)", err)}
	}
	who = strings.TrimSpace(fmt.Sprintf("%s %s <%s> (user %d)", me.FirstName, me.LastName, me.Email, me.ID))
	ids := func(path, name string) ([]int, error) {
		var out []int
		err := h.listAll(ctx, path, name, func(raw json.RawMessage) error {
			var items []struct {
				ID int `json:"id"`
			}
			if err := json.Unmarshal(raw, &items); err != nil {
				return fmt.Errorf("helpscout: %s: %w", path, err)
			}
			for _, it := range items {
				out = append(out, it.ID)
			}
			return nil
		})
		return out, err
	}
	if len(h.cfg.Inboxes) > 0 {
		boxes, err := ids("mailboxes", "mailboxes")
		if err != nil {
			problems = append(problems, fmt.Sprintf("list inboxes: %v", err))
		}
		for _, name := range sortedNames(h.cfg.Inboxes) {
			if err == nil && !slices.Contains(boxes, h.cfg.Inboxes[name]) {
				problems = append(problems, fmt.Sprintf("inbox %s: mailbox %d does not exist or the app's user cannot see it", name, h.cfg.Inboxes[name]))
			}
		}
	}
	if len(h.cfg.Assignees) > 0 || h.cfg.NoteUser != 0 {
		users, uerr := ids("users", "users")
		teams, terr := ids("teams", "teams")
		for _, err := range []error{uerr, terr} {
			if err != nil {
				problems = append(problems, fmt.Sprintf("list users and teams: %v", err))
			}
		}
		if uerr == nil && terr == nil {
			for _, name := range sortedNames(h.cfg.Assignees) {
				id := h.cfg.Assignees[name]
				if !slices.Contains(users, id) && !slices.Contains(teams, id) {
					problems = append(problems, fmt.Sprintf("assignee %s: %d is neither a user nor a team", name, id))
				}
			}
			if h.cfg.NoteUser != 0 && !slices.Contains(users, h.cfg.NoteUser) {
				problems = append(problems, fmt.Sprintf("note_user: %d is not a user", h.cfg.NoteUser))
			}
		}
	}
	return who, problems
}

func sortedNames(m map[string]int) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
