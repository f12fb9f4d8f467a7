package smtp

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/triage-bot/triage/metrics"
	"github.com/triage-bot/triage/normalize"
	"github.com/triage-bot/triage/outbox"
	"github.com/triage-bot/triage/store"
	"github.com/triage-bot/triage/ticket"
)

// Issue 16 item 6: the bot must not mail strangers. These tests drive the
// reply sink against the in-process SMTP server and count what arrived.

// newGuardedSink is newSink with metrics and the budgets given.
func newGuardedSink(t *testing.T, addr string, st *memStore, perHour, perDomain int) (*Sink, *metrics.Metrics) {
	t.Helper()
	m := metrics.New()
	s, err := New(Config{Host: addr, TLS: "plain", Username: "bot", Password: "secret", Auth: "password",
		From: "Support <support@example.com>", Timeout: 5 * time.Second, AuthServID: testAuthServID,
		RepliesPerHour: perHour, RepliesPerDomain: perDomain, Metrics: m}, st, nil)
	require.NoError(t, err)
	return s, m
}

func newMemStore() *memStore {
	return &memStore{tickets: map[string]*store.Record{}, cursors: map[string]string{}}
}

// heldCount reads triage_email_replies_held_total{reason=class}.
func heldCount(t *testing.T, m *metrics.Metrics, class string) float64 {
	t.Helper()
	mfs, err := m.Registry.Gather()
	require.NoError(t, err)
	for _, mf := range mfs {
		if mf.GetName() != "triage_email_replies_held_total" {
			continue
		}
		for _, c := range mf.GetMetric() {
			for _, l := range c.GetLabel() {
				if l.GetName() == "reason" && l.GetValue() == class {
					return c.GetCounter().GetValue()
				}
			}
		}
	}
	return 0
}

// ticketWith is a ticket from `from` carrying the given
// Authentication-Results values (topmost first) and other headers.
func ticketWith(id, from string, authResults []string, headers map[string]string) *store.Record {
	rec := human(id, from)
	delete(rec.Ticket.Headers, normalize.AuthResultsHeader)
	if len(authResults) > 0 {
		rec.Ticket.Headers[normalize.AuthResultsHeader] = strings.Join(authResults, "\n")
	}
	for k, v := range headers {
		rec.Ticket.Headers[k] = v
	}
	return rec
}

func TestReplyNeedsAnAuthenticatedSender(t *testing.T) {
	// As normalize stores it: unfolded onto one line.
	const gmail = "mx.example.net;       dkim=pass header.i=@customer.example header.s=s1 header.b=AbCd;" +
		"       spf=pass (mx.example.net: domain of bounce@customer.example designates 192.0.2.7 as permitted sender) smtp.mailfrom=bounce@customer.example;" +
		"       dmarc=pass (p=REJECT sp=REJECT dis=NONE) header.from=customer.example"
	tests := []struct {
		name   string
		from   string
		ar     []string // Authentication-Results, topmost first
		reply  bool
		reason string // for a held reply
	}{
		{"forged From, no Authentication-Results", "victim@third.example", nil, false,
			"no Authentication-Results header from mx.example.net"},
		{"a foreign authserv-id is not believed", "victim@third.example",
			[]string{"mx.evil.example; dmarc=pass header.from=third.example"}, false,
			`the topmost Authentication-Results header is from "mx.evil.example"`},
		{"ours below a foreign one is not believed", "victim@third.example",
			[]string{"relay.evil.example; none", "mx.example.net; dmarc=pass header.from=third.example"}, false,
			`is from "relay.evil.example"`},
		{"dmarc=pass", "ana@customer.example",
			[]string{"mx.example.net; dmarc=pass header.from=customer.example"}, true, ""},
		{"authserv-id in other case, with a version", "ana@customer.example",
			[]string{"MX.Example.NET 1; dmarc = pass header.from = Customer.Example"}, true, ""},
		{"a realistic header with comments", "Ana <ana@customer.example>", []string{gmail}, true, ""},
		{"aligned dkim pass", "ana@customer.example",
			[]string{"mx.example.net; dkim=pass header.d=customer.example header.s=sel"}, true, ""},
		{"dkim pass for a parent domain", "ana@eu.customer.example",
			[]string{"mx.example.net; dkim=pass header.d=customer.example"}, true, ""},
		{"aligned spf pass", "ana@customer.example",
			[]string{"mx.example.net; spf=pass smtp.mailfrom=bounces+x@customer.example"}, true, ""},
		{"several of ours on top, one passes", "ana@customer.example",
			[]string{"mx.example.net; spf=softfail smtp.mailfrom=customer.example", "mx.example.net; dkim=pass header.d=customer.example", "elsewhere.example; dmarc=fail"}, true, ""},
		{"unaligned dkim pass", "victim@third.example",
			[]string{"mx.example.net; dkim=pass header.d=evil.example; dmarc=fail header.from=third.example"}, false,
			"dkim=pass d=evil.example"},
		{"dkim pass for a one-label domain", "victim@third.example",
			[]string{"mx.example.net; dkim=pass header.d=example"}, false, "dkim=pass d=example"},
		{"dkim pass for a domain that merely ends alike", "victim@third.example",
			[]string{"mx.example.net; dkim=pass header.d=rd.example"}, false, "dkim=pass d=rd.example"},
		{"unaligned spf pass", "victim@third.example",
			[]string{"mx.example.net; spf=pass smtp.mailfrom=evil.example"}, false, "spf=pass smtp.mailfrom=evil.example"},
		{"dmarc pass for another From domain", "victim@third.example",
			[]string{"mx.example.net; dmarc=pass header.from=evil.example"}, false, "dmarc=pass header.from=evil.example"},
		{"dmarc fail", "victim@third.example",
			[]string{"mx.example.net; dmarc=fail header.from=third.example"}, false, "dmarc=fail"},
		{"a quoted pass is not a result", "victim@third.example",
			[]string{`mx.example.net; dkim=fail reason="dmarc=pass header.from=third.example"`}, false, "dkim=fail"},
		{"a commented pass is not a result", "victim@third.example",
			[]string{`mx.example.net; (dmarc=pass header.from=third.example) spf=none`}, false, "spf=none"},
		{"no result at all", "victim@third.example", []string{"mx.example.net; none"}, false,
			"reported no DMARC, DKIM or SPF result"},
		{"a nameless header on top", "victim@third.example", []string{"; dmarc=pass header.from=third.example", "mx.example.net; dmarc=pass header.from=third.example"}, false,
			"the topmost Authentication-Results header names no server"},
	}
	srv, addr := startSMTP(t)
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := newMemStore()
			s, m := newGuardedSink(t, addr, st, 1000, 1000)
			before := len(srv.all())
			id := fmt.Sprint("auth", i)
			st.tickets[id] = ticketWith(id, tt.from, tt.ar, nil)
			err := s.ReplySink().Send(context.Background(), action(id, ticket.KindEmailReply, "", id))
			if tt.reply {
				require.NoError(t, err)
				assert.Len(t, srv.all(), before+1)
				return
			}
			require.Error(t, err)
			assert.True(t, outbox.IsSuppressed(err), "held back for good, not retried, not an error")
			assert.True(t, strings.HasPrefix(err.Error(), "suppressed: the sender is not authenticated: "), err.Error())
			assert.Contains(t, err.Error(), tt.reason)
			assert.Contains(t, err.Error(), "smtp.require_sender_auth", "names the setting")
			assert.Len(t, srv.all(), before, "nothing sent")
			assert.Equal(t, float64(1), heldCount(t, m, "sender_auth"), "counted")
		})
	}

	t.Run("require_sender_auth: false answers unauthenticated mail", func(t *testing.T) {
		st := newMemStore()
		s, err := New(Config{Host: addr, TLS: "plain", Username: "bot", Password: "secret", Auth: "password",
			From: "support@example.com", AllowUnauthenticated: true}, st, nil)
		require.NoError(t, err)
		before := len(srv.all())
		st.tickets["open"] = ticketWith("open", "ana@open.example", nil, nil)
		require.NoError(t, s.ReplySink().Send(context.Background(), action("open", ticket.KindEmailReply, "", "open")))
		assert.Len(t, srv.all(), before+1)
	})
	t.Run("no authserv-id, no sink", func(t *testing.T) {
		_, err := New(Config{Host: addr, From: "support@example.com"}, newMemStore(), nil)
		require.Error(t, err)
		assert.Contains(t, err.Error(), "auth_serv_id")
	})
}

func TestReplyWindowCountsOneSenderOnce(t *testing.T) {
	var variants []string
	for i := range 20 {
		variants = append(variants, fmt.Sprintf("target+%d@victim.example", i))
	}
	variants = append(variants, "target@victim.example", "TARGET@Victim.Example", "Target+x@VICTIM.EXAMPLE")
	refused := []string{"target@victim.example.", "Target+x@VICTIM.EXAMPLE.", "target@[192.0.2.1]", "target@192.0.2.1", "target@[IPv6:2001:db8::1]", "<target@192.0.2.1>"}

	srv, addr := startSMTP(t)
	st := newMemStore()
	s, m := newGuardedSink(t, addr, st, 1000, 1000) // only the window limits here
	for i, from := range append(variants, refused...) {
		id := fmt.Sprint("v", i)
		rec := ticketWith(id, from, []string{testAuthServID + "; dmarc=pass header.from=victim.example"}, nil)
		st.tickets[id] = rec
		err := s.ReplySink().Send(context.Background(), action(id, ticket.KindEmailReply, "", id))
		switch {
		case i == 0:
			require.NoError(t, err, from)
		case i < len(variants):
			require.Error(t, err, from)
			assert.Contains(t, err.Error(), "was already answered automatically", from)
			assert.Contains(t, err.Error(), "counting target@victim.example", from)
		default:
			require.Error(t, err, from)
			assert.True(t, strings.HasPrefix(err.Error(), "suppressed: "), err.Error())
		}
	}
	got := srv.all()
	require.Len(t, got, 1, "one reply for every spelling of one address")
	assert.Equal(t, []string{"target+0@victim.example"}, got[0].to)
	assert.Equal(t, float64(len(variants)-1), heldCount(t, m, "window"))

	t.Run("IP addresses and trailing dots are refused outright", func(t *testing.T) {
		for _, to := range append(refused, "target@10.0.0.1", "t@host.123") {
			_, err := recipient(to)
			assert.Error(t, err, to)
		}
	})
	t.Run("canonical form", func(t *testing.T) {
		for in, want := range map[string]string{
			"Ana+Tag+More@Customer.Example.": "ana@customer.example",
			"+x@customer.example":            "+x@customer.example",
			"ana@customer.example":           "ana@customer.example",
		} {
			assert.Equal(t, want, canonical(in), in)
		}
	})
}

func TestReplyBudgets(t *testing.T) {
	srv, addr := startSMTP(t)
	st := newMemStore()
	s, m := newGuardedSink(t, addr, st, 3, 2)
	now := time.Date(2030, 1, 2, 10, 0, 0, 0, time.UTC)
	s.now = func() time.Time { return now }
	send := func(s *Sink, id, from string) error {
		st.tickets[id] = human(id, from)
		return s.ReplySink().Send(context.Background(), action(id, ticket.KindEmailReply, "", id))
	}

	require.NoError(t, send(s, "a1", "one@a.example"))
	require.NoError(t, send(s, "a2", "two@a.example"))
	err := send(s, "a3", "three@a.example")
	require.Error(t, err)
	assert.Contains(t, err.Error(), "suppressed: the reply budget for a.example is spent: 2 automatic replies to that domain in the last hour (smtp.replies_per_domain_per_hour)")
	assert.Equal(t, float64(1), heldCount(t, m, "domain_budget"))

	require.NoError(t, send(s, "b1", "one@b.example"))
	err = send(s, "b2", "two@b.example")
	require.Error(t, err)
	assert.True(t, outbox.IsPermanent(err))
	assert.Contains(t, err.Error(), "suppressed: the reply budget is spent: 3 automatic replies in the last hour (smtp.replies_per_hour); the next is possible after 2030-01-02T11:00:00Z")
	assert.Equal(t, float64(1), heldCount(t, m, "budget"))
	require.NoError(t, s.ReplySink().Send(context.Background(), action("b1", ticket.KindEmailReply, "", "b1")),
		"a retry of an action that took its budget still goes")
	assert.Len(t, srv.all(), 4)

	t.Run("a restart does not reset the budgets", func(t *testing.T) {
		s2, _ := newGuardedSink(t, addr, st, 3, 2)
		s2.now = s.now
		err := send(s2, "c1", "one@c.example")
		require.Error(t, err)
		assert.Contains(t, err.Error(), "the reply budget is spent")
	})
	t.Run("an hour later there is room again", func(t *testing.T) {
		s.now = func() time.Time { return now.Add(time.Hour + time.Second) }
		require.NoError(t, send(s, "c2", "two@c.example"))
		require.NoError(t, send(s, "a4", "four@a.example"))
	})
}

// TestReplyBudgetAcrossReplicas: two sinks sharing one store, as two
// replicas sharing PostgreSQL, spend one budget between them.
func TestReplyBudgetAcrossReplicas(t *testing.T) {
	srv, addr := startSMTP(t)
	st := newMemStore()
	a, _ := newGuardedSink(t, addr, st, 5, 100)
	b, _ := newGuardedSink(t, addr, st, 5, 100)
	require.NotEqual(t, a.holder, b.holder)
	for i := range 30 {
		id := fmt.Sprint("r", i)
		st.tickets[id] = human(id, fmt.Sprintf("user%d@many.example", i))
	}
	var wg sync.WaitGroup
	for i := range 30 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s := a
			if i%2 == 1 {
				s = b
			}
			id := fmt.Sprint("r", i)
			_ = s.ReplySink().Send(context.Background(), action(id, ticket.KindEmailReply, "", id))
		}()
	}
	wg.Wait()
	assert.Len(t, srv.all(), 5)
}

func TestReplyToOnlyWhenAligned(t *testing.T) {
	tests := []struct {
		name, replyTo, want string
	}{
		{"a third party is ignored", "victim@third.example", "ana@customer.example"},
		{"a lookalike domain is ignored", "x@evilcustomer.example", "ana@customer.example"},
		{"a list is ignored", "a@customer.example, victim@third.example", "ana@customer.example"},
		{"a quoted local part is ignored", `"victim@third.example, x"@customer.example`, "ana@customer.example"},
		{"a no-reply address is ignored", "noreply@customer.example", "ana@customer.example"},
		{"the same domain is followed", "Help Desk <help@customer.example>", "help@customer.example"},
		{"a subdomain is followed", "tickets@support.customer.example", "tickets@support.customer.example"},
	}
	srv, addr := startSMTP(t)
	st := newMemStore()
	s, _ := newGuardedSink(t, addr, st, 1000, 1000)
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id := fmt.Sprint("rt", i)
			st.tickets[id] = ticketWith(id, "ana@customer.example",
				[]string{testAuthServID + "; dmarc=pass header.from=customer.example"}, map[string]string{"Reply-To": tt.replyTo})
			s.now = func() time.Time { return time.Now().Add(time.Duration(i) * 25 * time.Hour) } // past the window
			require.NoError(t, s.ReplySink().Send(context.Background(), action(id, ticket.KindEmailReply, "", id)))
			got := srv.all()
			assert.Equal(t, []string{tt.want}, got[len(got)-1].to)
		})
	}
}

// TestForgedFloodIsBounded replays the attack: a thousand mails
// with forged From addresses of many domains. With sender authentication
// nobody is mailed; without it, the hourly budget is all that goes.
func TestForgedFloodIsBounded(t *testing.T) {
	srv, addr := startSMTP(t)
	for _, tt := range []struct {
		name  string
		allow bool
		want  int
	}{{"require_sender_auth", false, 0}, {"require_sender_auth false: the budget", true, 200}} {
		t.Run(tt.name, func(t *testing.T) {
			before := len(srv.all())
			st := newMemStore()
			s, err := New(Config{Host: addr, TLS: "plain", Username: "bot", Password: "secret", Auth: "password",
				From: "support@example.com", AuthServID: testAuthServID, AllowUnauthenticated: tt.allow}, st, nil)
			require.NoError(t, err)
			held := 0
			for i := range 1000 {
				id := fmt.Sprint("f", i)
				// A forger may add results of their own; they are below ours.
				st.tickets[id] = ticketWith(id, fmt.Sprintf("victim%d@third%d.example", i, i%100),
					[]string{"forger.example; dmarc=pass header.from=third.example"}, nil)
				if err := s.ReplySink().Send(context.Background(), action(id, ticket.KindEmailReply, "", id)); err != nil {
					require.True(t, outbox.IsSuppressed(err), err.Error())
					held++
				}
			}
			assert.Equal(t, tt.want, len(srv.all())-before)
			assert.Equal(t, 1000-tt.want, held, "every other reply was held back with its reason")
		})
	}
}
