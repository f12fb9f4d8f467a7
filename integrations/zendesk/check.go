package zendesk

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// Check is `config check --connect`: it calls the API with the
// configured credentials and checks that every group zendesk.groups
// names exists. It returns the problems in plain words, none when all is
// well; the first names the user the token acts as when it works.
func (a *Account) Check(ctx context.Context) (who string, problems []string) {
	me, err := a.api.me(ctx)
	if err != nil {
		return "", []string{fmt.Sprintf("credentials: %v", err)}
	}
	who = fmt.Sprintf("%s <%s>, %s", me.Name, me.Email, me.Role)
	if me.Role == "end-user" {
		problems = append(problems, fmt.Sprintf("the token's user %s is an end user: internal notes, tags and groups need an agent or admin", me.Email))
	}
	if len(a.cfg.Groups) == 0 {
		return who, problems
	}
	gs, err := a.api.groups(ctx)
	if err != nil {
		return who, append(problems, fmt.Sprintf("groups: %v", err))
	}
	ids := map[int64]bool{}
	names := map[string]bool{}
	for _, g := range gs {
		ids[g.ID] = true
		names[strings.ToLower(g.Name)] = true
	}
	keys := make([]string, 0, len(a.cfg.Groups))
	for k := range a.cfg.Groups {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		v := a.cfg.Groups[k]
		if id, err := strconv.ParseInt(v, 10, 64); err == nil {
			if !ids[id] {
				problems = append(problems, fmt.Sprintf("zendesk.groups.%s: no group with ID %d", k, id))
			}
		} else if !names[strings.ToLower(v)] {
			problems = append(problems, fmt.Sprintf("zendesk.groups.%s: no group named %q", k, v))
		}
	}
	return who, problems
}
