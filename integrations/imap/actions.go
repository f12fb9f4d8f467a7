package imap

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"

	goimap "github.com/emersion/go-imap/v2"

	"github.com/triage-bot/triage/outbox"
	"github.com/triage-bot/triage/store"
	"github.com/triage-bot/triage/ticket"
)

// TicketReader reads a stored ticket (store.Store has this method); the
// sinks use it to find a message by Message-ID after a UIDVALIDITY change.
type TicketReader interface {
	Ticket(ctx context.Context, id string) (*store.Record, error)
}

// Actions carries out imap.flag and imap.move for a set of accounts, one
// connection per account, dialled on first use and re-dialled after a
// failure.
type Actions struct {
	accounts map[string]*account
	tickets  TicketReader
	log      *slog.Logger
}

type account struct {
	acct *Account
	mu   sync.Mutex
	c    *conn
	// selected and selectedV are the mailbox selected on c and its
	// UIDVALIDITY, so a run of actions on one mailbox selects it once.
	selected  string
	selectedV uint32
}

// selectBox selects mailbox unless it is selected already.
func (ac *account) selectBox(c *conn, mailbox string) (uint32, error) {
	if ac.selected == mailbox && c.Mailbox() != nil && c.Mailbox().Name == mailbox {
		return ac.selectedV, nil
	}
	ac.selected = ""
	sel, err := c.Select(mailbox, nil).Wait()
	if err != nil {
		return 0, err
	}
	ac.selected, ac.selectedV = mailbox, sel.UIDValidity
	return sel.UIDValidity, nil
}

// NewActions returns the sinks' shared state. It does no I/O.
func NewActions(accts []Account, tickets TicketReader, log *slog.Logger) *Actions {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	a := &Actions{accounts: map[string]*account{}, tickets: tickets, log: log}
	for _, ac := range accts {
		ac.defaults()
		a.accounts[ac.Name] = &account{acct: &ac}
	}
	return a
}

// Close ends every connection.
func (a *Actions) Close() error {
	var errs []error
	for _, ac := range a.accounts {
		ac.mu.Lock()
		if ac.c != nil {
			ac.c.Logout()
			errs = append(errs, ac.c.Close())
			ac.c = nil
		}
		ac.mu.Unlock()
	}
	return errors.Join(errs...)
}

// FlagSink returns the imap.flag sink: the target is one or more keywords
// or flags separated by spaces ("$ngrok-108 $triage-agent-auth").
// Setting a flag twice is harmless, so repeats are idempotent.
func (a *Actions) FlagSink() outbox.Sink { return sinkFunc(a.flag) }

// MoveSink returns the imap.move sink: the target is a mailbox, or a
// category that the account's Folders map to a mailbox. A message already
// in the destination counts as moved.
func (a *Actions) MoveSink() outbox.Sink { return sinkFunc(a.move) }

type sinkFunc func(ctx context.Context, act ticket.Action) error

func (f sinkFunc) Send(ctx context.Context, act ticket.Action) error { return f(ctx, act) }

// with runs fn on the account's connection, dialling it when needed and
// dropping it when it broke.
func (a *Actions) with(ctx context.Context, kind, ticketID string, fn func(ac *account, c *conn, mailbox string, uidValidity, uid uint32) error) error {
	name, mailbox, v, uid, ok := ParseTicketID(ticketID)
	if !ok {
		return outbox.Permanent(fmt.Errorf("%s: ticket %s did not come from an IMAP mailbox", kind, ticketID))
	}
	ac, ok := a.accounts[name]
	if !ok {
		return outbox.Permanent(fmt.Errorf("%s: no IMAP account named %q is configured", kind, name))
	}
	ac.mu.Lock()
	defer ac.mu.Unlock()
	if ac.c == nil || ac.c.closed() {
		c, err := dial(ctx, ac.acct, nil)
		if err != nil {
			if errors.Is(err, ErrAuth) {
				return fmt.Errorf("%s: %w", kind, err) // retried: credentials may be fixed
			}
			return fmt.Errorf("%s: %w", kind, err)
		}
		ac.c, ac.selected = c, ""
	}
	stop := ac.c.bind(ctx)
	err := fn(ac, ac.c, mailbox, v, uid)
	stop()
	if ac.c.closed() {
		ac.c = nil
	}
	return err
}

func (a *Actions) flag(ctx context.Context, act ticket.Action) error {
	var flags []goimap.Flag
	for _, f := range strings.Fields(act.Target) {
		if !keywordOK(f) {
			return outbox.Permanent(fmt.Errorf("imap.flag: %q is not a valid IMAP keyword (letters, digits, $ - _ . ; no spaces or brackets)", f))
		}
		flags = append(flags, goimap.Flag(f))
	}
	if len(flags) == 0 {
		return outbox.Permanent(errors.New("imap.flag: the target names no keyword"))
	}
	return a.with(ctx, "imap.flag", act.TicketID, func(ac *account, c *conn, mailbox string, v, uid uint32) error {
		// Fast path: the message is where the source found it. A non-silent
		// UID STORE answers with the message's flags, proving it exists.
		if cur, err := ac.selectBox(c, mailbox); err == nil && cur == v {
			msgs, err := c.Store(goimap.UIDSetNum(goimap.UID(uid)), &goimap.StoreFlags{Op: goimap.StoreFlagsAdd, Flags: flags}, nil).Collect()
			if err != nil {
				return fmt.Errorf("imap.flag: store %s on uid %d in %s: %w", act.Target, uid, mailbox, err)
			}
			for _, m := range msgs {
				if uint32(m.UID) == uid {
					return nil
				}
			}
		}
		box, found, err := a.locate(ctx, ac, c, act.TicketID, mailbox, v, uid, a.moveTargets(ctx, ac, act.TicketID))
		if err != nil {
			return fmt.Errorf("imap.flag: %w", err)
		}
		if found == 0 {
			return outbox.Permanent(fmt.Errorf("imap.flag: message of ticket %s is no longer in %s (nor found by Message-ID)", act.TicketID, mailbox))
		}
		cmd := c.Store(goimap.UIDSetNum(goimap.UID(found)), &goimap.StoreFlags{Op: goimap.StoreFlagsAdd, Silent: true, Flags: flags}, nil)
		if err := cmd.Close(); err != nil {
			return fmt.Errorf("imap.flag: store %s on uid %d in %s: %w", act.Target, found, box, err)
		}
		return nil
	})
}

func (a *Actions) move(ctx context.Context, act ticket.Action) error {
	return a.with(ctx, "imap.move", act.TicketID, func(ac *account, c *conn, mailbox string, v, uid uint32) error {
		dest := strings.TrimSpace(act.Target)
		if f, ok := ac.acct.Folders[dest]; ok {
			dest = f
		}
		if dest == "" {
			return outbox.Permanent(errors.New("imap.move: the target names no mailbox"))
		}
		if dest == mailbox {
			return nil
		}
		box, found, err := a.locate(ctx, ac, c, act.TicketID, mailbox, v, uid, nil)
		if err != nil {
			return fmt.Errorf("imap.move: %w", err)
		}
		if found == 0 {
			// Moved before (a repeat after a crash or a lost answer)?
			if _, there, err := a.locate(ctx, ac, c, act.TicketID, dest, 0, 0, nil); err == nil && there != 0 {
				return nil
			}
			return outbox.Permanent(fmt.Errorf("imap.move: message of ticket %s is in neither %s nor %s", act.TicketID, mailbox, dest))
		}
		_ = box
		// The ticket is stored (this action exists): acknowledge before the
		// message leaves the source mailbox, in case the source has not yet.
		_ = c.Store(goimap.UIDSetNum(goimap.UID(found)), &goimap.StoreFlags{Op: goimap.StoreFlagsAdd, Silent: true, Flags: []goimap.Flag{goimap.Flag(ac.acct.Triaged)}}, nil).Close()
		err = moveUID(c, goimap.UID(found), dest)
		if err != nil && isNo(err) && ac.acct.CreateFolders {
			if cerr := c.Create(dest, nil).Wait(); cerr != nil && !isCode(cerr, goimap.ResponseCodeAlreadyExists) {
				return fmt.Errorf("imap.move: create %s: %w", dest, cerr)
			}
			a.log.Info("imap folder created", "account", ac.acct.Name, "mailbox", dest)
			err = moveUID(c, goimap.UID(found), dest)
		}
		if err != nil {
			if errors.Is(err, errNoSafeMove) {
				return outbox.Permanent(fmt.Errorf("imap.move: %w", err))
			}
			if isNo(err) {
				hint := ""
				if !ac.acct.CreateFolders {
					hint = " (does it exist? set create_folders: true to create it)"
				}
				return outbox.Permanent(fmt.Errorf("imap.move: move uid %d from %s to %s: %w%s", found, mailbox, dest, err, hint))
			}
			return fmt.Errorf("imap.move: move uid %d from %s to %s: %w", found, mailbox, dest, err)
		}
		return nil
	})
}

// errNoSafeMove is returned by moveUID on a server with neither MOVE nor
// UIDPLUS.
var errNoSafeMove = errors.New("the server supports neither MOVE nor UIDPLUS, so a move would need a plain EXPUNGE that deletes every \\Deleted message in the mailbox; refusing (nothing was changed)")

// moveUID moves one message of the selected mailbox. Without MOVE it
// copies, and only when the copy succeeded marks and UID EXPUNGEs that one
// message (UIDPLUS); never a plain EXPUNGE.
func moveUID(c *conn, uid goimap.UID, dest string) error {
	set := goimap.UIDSetNum(uid)
	caps := c.Caps()
	if caps.Has(goimap.CapMove) {
		_, err := c.Move(set, dest).Wait()
		return err
	}
	if !caps.Has(goimap.CapUIDPlus) {
		return errNoSafeMove
	}
	if _, err := c.Copy(set, dest).Wait(); err != nil {
		return err
	}
	if err := c.Store(set, &goimap.StoreFlags{Op: goimap.StoreFlagsAdd, Silent: true, Flags: []goimap.Flag{goimap.FlagDeleted}}, nil).Close(); err != nil {
		return err
	}
	return c.UIDExpunge(set).Close()
}

// locate selects mailbox and finds the ticket's message in it: by UID
// when the UIDVALIDITY still matches, else by the stored Message-ID. It
// also looks in extra mailboxes (where a move action may have put it). It
// returns the mailbox and UID, or 0 when the message is not there.
func (a *Actions) locate(ctx context.Context, ac *account, c *conn, ticketID, mailbox string, v, uid uint32, extra []string) (string, uint32, error) {
	msgID := ""
	for i, box := range append([]string{mailbox}, extra...) {
		selV, err := ac.selectBox(c, box)
		if err != nil {
			if i > 0 && isNo(err) {
				continue
			}
			return "", 0, fmt.Errorf("select %s: %w", box, err)
		}
		if i == 0 && uid != 0 && selV == v {
			msgs, err := c.Fetch(goimap.UIDSetNum(goimap.UID(uid)), &goimap.FetchOptions{UID: true}).Collect()
			if err != nil {
				return "", 0, fmt.Errorf("fetch uid %d in %s: %w", uid, box, err)
			}
			for _, m := range msgs {
				if uint32(m.UID) == uid {
					return box, uid, nil
				}
			}
		}
		if msgID == "" && a.tickets != nil {
			rec, err := a.tickets.Ticket(ctx, ticketID)
			if err != nil && !errors.Is(err, store.ErrNotFound) {
				return "", 0, fmt.Errorf("read ticket %s: %w", ticketID, err)
			}
			if rec != nil {
				msgID = rec.Ticket.MessageID
			}
		}
		if msgID == "" {
			continue
		}
		data, err := c.UIDSearch(&goimap.SearchCriteria{Header: []goimap.SearchCriteriaHeaderField{{Key: "Message-ID", Value: "<" + msgID + ">"}}}, nil).Wait()
		if err != nil {
			return "", 0, fmt.Errorf("search Message-ID in %s: %w", box, err)
		}
		if u := data.AllUIDs(); len(u) > 0 {
			return box, uint32(u[0]), nil
		}
	}
	return mailbox, 0, nil
}

// moveTargets lists the mailboxes the ticket's imap.move actions send it
// to, so a flag set after the move still finds the message.
func (a *Actions) moveTargets(ctx context.Context, ac *account, ticketID string) []string {
	if a.tickets == nil {
		return nil
	}
	rec, err := a.tickets.Ticket(ctx, ticketID)
	if err != nil || rec == nil {
		return nil
	}
	var out []string
	for _, x := range rec.Actions {
		if x.Kind == ticket.KindIMAPMove && x.State != ticket.StateShadow {
			dest := strings.TrimSpace(x.Target)
			if f, ok := ac.acct.Folders[dest]; ok {
				dest = f
			}
			out = append(out, dest)
		}
	}
	return out
}

func isNo(err error) bool {
	var ie *goimap.Error
	return errors.As(err, &ie) && ie.Type == goimap.StatusResponseTypeNo
}

func isCode(err error, code goimap.ResponseCode) bool {
	var ie *goimap.Error
	return errors.As(err, &ie) && ie.Code == code
}

// keywordOK reports whether s is a flag or keyword the bot may set.
func keywordOK(s string) bool {
	if strings.HasPrefix(s, `\`) {
		switch strings.ToLower(s) {
		case `\flagged`, `\seen`, `\answered`, `\draft`:
			return true
		}
		return false // never \Deleted
	}
	for _, r := range s {
		if r <= ' ' || r >= 0x7f || strings.ContainsRune(`(){%*"\]`, r) {
			return false
		}
	}
	return s != ""
}
