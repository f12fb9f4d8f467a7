package freshdesk

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// Check is `config check --connect` for the account: it checks the API
// key with a cheap authenticated call (GET agents/me) and that every
// group named in the config exists. It returns the problems in plain
// words, none when all is well.
func (d *Desk) Check(ctx context.Context) []string {
	var me struct {
		ID      int64 `json:"id"`
		Contact struct {
			Email string `json:"email"`
		} `json:"contact"`
	}
	if _, err := d.call(ctx, "GET", "agents/me", nil, &me); err != nil {
		return []string{fmt.Sprintf("cannot use the API at %s: %v", d.cfg.APIURL, err)}
	}
	var problems []string
	if len(d.cfg.Groups) == 0 {
		return nil
	}
	groups, err := d.Groups(ctx)
	if err != nil {
		return []string{fmt.Sprintf("cannot list groups: %v", err)}
	}
	byName, byID := map[string]bool{}, map[int64]bool{}
	for _, g := range groups {
		byName[strings.ToLower(g.Name)] = true
		byID[g.ID] = true
	}
	keys := make([]string, 0, len(d.cfg.Groups))
	for k := range d.cfg.Groups {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		v := d.cfg.Groups[k]
		if id, err := strconv.ParseInt(v, 10, 64); err == nil {
			if !byID[id] {
				problems = append(problems, fmt.Sprintf("groups.%s: there is no group with ID %d", k, id))
			}
		} else if !byName[strings.ToLower(v)] {
			problems = append(problems, fmt.Sprintf("groups.%s: there is no group named %q (create it under Admin → Team → Groups)", k, v))
		}
	}
	return problems
}
