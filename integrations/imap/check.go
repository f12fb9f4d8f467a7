package imap

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"

	goimap "github.com/emersion/go-imap/v2"
)

// Check connects to the account, logs in, and reports in plain words what
// would keep the bot from working well there: "cannot connect …", "auth
// failed …", "no IDLE …", "no MOVE …", a missing mailbox, keywords that
// cannot be stored, a folder of Folders that does not exist. No problems
// means nil. It changes nothing on the server (mailboxes are EXAMINEd):
// a missing folder that create_folders will create is reported as
// "folder … will be created …", one that cannot be as "folder … does not
// exist …".
func Check(ctx context.Context, acct Account) []string {
	acct.defaults()
	c, err := dial(ctx, &acct, nil)
	if err != nil {
		if errors.Is(err, ErrAuth) {
			return []string{fmt.Sprintf("auth failed: the server refused %s's credentials (%v)", acct.Username, err)}
		}
		return []string{fmt.Sprintf("cannot connect: %v", err)}
	}
	defer c.Close()
	stop := c.bind(ctx)
	defer stop()
	var problems []string
	caps := c.Caps()
	if !caps.Has(goimap.CapIdle) {
		problems = append(problems, "no IDLE: new mail is noticed only by polling (every poll interval)")
	}
	if !caps.Has(goimap.CapMove) {
		if caps.Has(goimap.CapUIDPlus) {
			problems = append(problems, "no MOVE: imap.move falls back to COPY + UID EXPUNGE of the one message")
		} else {
			problems = append(problems, "no MOVE and no UIDPLUS: imap.move actions will fail (a safe move is impossible on this server)")
		}
	}
	for _, box := range acct.Mailboxes {
		sel, err := c.Select(c.box(box), &goimap.SelectOptions{ReadOnly: true}).Wait()
		if err != nil {
			problems = append(problems, fmt.Sprintf("mailbox %s: cannot open it (%v)", box, err))
			continue
		}
		if sel.PermanentFlags != nil && !slices.Contains(sel.PermanentFlags, goimap.FlagWildcard) &&
			!slices.Contains(sel.PermanentFlags, goimap.Flag(acct.Triaged)) {
			problems = append(problems, fmt.Sprintf("mailbox %s: the server does not let clients store new keywords, so %s cannot be set", box, acct.Triaged))
		}
	}
	problems = append(problems, checkFolders(c, &acct)...)
	_ = c.Logout().Wait()
	return problems
}

// checkFolders looks up each folder of the account's Folders by its name
// on the server (configured with '/', sent with the server's separator).
func checkFolders(c *conn, acct *Account) []string {
	var problems []string
	folders := slices.Sorted(maps.Values(acct.Folders))
	for _, f := range slices.Compact(folders) {
		name := c.box(f)
		shown := f
		if name != f {
			shown = fmt.Sprintf("%s (%s on this server)", f, name)
		}
		boxes, err := c.List("", name, nil).Collect()
		switch {
		case err != nil:
			problems = append(problems, fmt.Sprintf("folder %s: cannot look it up (%v)", shown, err))
		case len(boxes) > 0:
		case acct.CreateFolders:
			problems = append(problems, fmt.Sprintf("folder %s will be created by the first move there (create_folders: true)", shown))
		default:
			problems = append(problems, fmt.Sprintf("folder %s does not exist: moves there will fail; create it or set create_folders: true", shown))
		}
	}
	return problems
}
