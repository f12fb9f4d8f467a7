package route

import (
	"bufio"
	"encoding/json"
	"os"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/triage-bot/triage/annotate"
	"github.com/triage-bot/triage/catalog"
	"github.com/triage-bot/triage/normalize"
	"github.com/triage-bot/triage/ticket"
)

// fanoutRoutes plans one action of every kind for every ticket.
const fanoutRoutes = `
routes:
  rules:
    - name: everything
      actions:
        - {kind: webhook, target: helpdesk}
        - {kind: jsonl, target: out.jsonl}
        - {kind: maildir.move, target: "{{.Primary}}"}
        - {kind: slack.reply}
        - {kind: slack.post, target: "#support"}
        - {kind: slack.react, target: eyes}
        - {kind: imap.flag, target: "$triage {{range .Codes}}$ngrok-{{.Code}} {{end}}"}
        - {kind: imap.move, target: "Triage/{{.Primary}}"}
        - {kind: email.reply}
        - {kind: email.forward, target: billing@example.com}
        - {kind: alert, target: on-call}
        - {kind: zendesk.note}
        - {kind: zendesk.tag}
        - {kind: zendesk.assign}
        - {kind: freshdesk.note}
        - {kind: freshdesk.tag}
        - {kind: freshdesk.assign, target: auto}
        - {kind: front.note}
        - {kind: front.tag}
        - {kind: front.assign, target: "{{.Primary}}"}
        - {kind: helpscout.note, target: default}
        - {kind: helpscout.tag, target: default}
        - {kind: helpscout.assign, target: "{{.Primary}}"}
`

// mailTicket reads a mail from testdata and annotates it as the pipeline
// does.
func mailTicket(t *testing.T, name string) Input {
	t.Helper()
	f, err := os.Open("testdata/" + name)
	require.NoError(t, err)
	defer f.Close()
	tk, err := normalize.Message(f, normalize.Limits{})
	require.NoError(t, err)
	tk.ID, tk.Source, tk.Channel = "imap:support/INBOX/1/42", "email", "INBOX"
	cat, err := catalog.Default()
	require.NoError(t, err)
	_, ann := annotate.Ticket(tk, cat)
	return Input{Ticket: tk, Annotation: ann}
}

// TestFanoutBounded routes a 74 KB mail naming 5,000 codes to every kind
// of action: each payload stays small, texts name the first few codes and
// say how many more, and the keywords stay within the limit.
func TestFanoutBounded(t *testing.T) {
	in := mailTicket(t, "fanout-5000-codes.eml")
	require.Len(t, in.Annotation.Codes, 5000, "the fixture names 5,000 distinct codes")
	r := mustParse(t, fanoutRoutes)
	d, err := r.Decide(in)
	require.NoError(t, err)
	require.Len(t, d.Actions, len(Kinds()))

	// The limits that hold with the defaults, per kind.
	const maxPayload = 128 << 10
	wantMore := map[string]string{
		ticket.KindWebhook:      "- and 4995 more\n",
		ticket.KindJSONL:        "- and 4995 more\n",
		ticket.KindAlert:        "- and 4995 more\n",
		ticket.KindSlackReply:   "• and 4995 more\n",
		ticket.KindSlackPost:    "• and 4995 more\n",
		ticket.KindEmailReply:   "…and 4995 more; we will look at all of them.",
		ticket.KindEmailForward: "- and 4995 more (the ticket lists them all)",
		ticket.KindSlackReact:   " and 4995 more",
		ticket.KindIMAPFlag:     " and 4995 more",
		ticket.KindIMAPMove:     " and 4995 more",
		ticket.KindMaildirMove:  " and 4995 more",
		// Zendesk
		ticket.KindZendeskNote:   "…and 4995 more (the ticket in triage lists them all)",
		ticket.KindZendeskTag:    " and 4995 more",
		ticket.KindZendeskAssign: " and 4995 more",
		// Freshdesk
		ticket.KindFreshdeskNote:   "- and 4995 more\n",
		ticket.KindFreshdeskTag:    "- and 4995 more\n",
		ticket.KindFreshdeskAssign: "- and 4995 more\n",
		ticket.KindFrontNote:       "…and 4995 more codes",
		ticket.KindFrontTag:        " and 4995 more",
		ticket.KindFrontAssign:     " and 4995 more",
		// Help Scout
		ticket.KindHelpScoutNote:   "- and 4995 more written codes\n",
		ticket.KindHelpScoutTag:    " and 4995 more",
		ticket.KindHelpScoutAssign: " and 4995 more",
	}
	for _, a := range d.Actions {
		t.Run(a.Kind, func(t *testing.T) {
			t.Logf("%s: payload %d bytes", a.Kind, len(a.Payload))
			assert.LessOrEqual(t, len(a.Payload), maxPayload, "payload size")
			var p Payload
			require.NoError(t, json.Unmarshal(a.Payload, &p))
			assert.LessOrEqual(t, len(p.Ticket.Codes), DefaultPayloadCodes)
			assert.Equal(t, 5000-len(p.Ticket.Codes), p.Ticket.MoreCodes, "the payload counts what it leaves out")
			assert.LessOrEqual(t, utf8.RuneCountInString(p.Text), DefaultTextChars)
			assert.Contains(t, p.Text, wantMore[a.Kind])
			named, _, _ := strings.Cut(p.Text, "\nMessage:\n") // a forward quotes the message after its list
			assert.Contains(t, named, "ERR_NGROK_100", "the first code is named")
			assert.NotContains(t, named, "ERR_NGROK_105", "the sixth is not")
		})
	}
	flag := d.Actions[6]
	require.Equal(t, ticket.KindIMAPFlag, flag.Kind)
	assert.Equal(t, "$triage $ngrok-100 $ngrok-101 $ngrok-102 $ngrok-103 $ngrok-104", flag.Target)
}

// TestKeywordsPerMessage: the imap.flag actions of one ticket set at most
// limits.keywords keywords in all; keywords already set cost nothing, and
// an action left with none is parked, never sent.
func TestKeywordsPerMessage(t *testing.T) {
	in := mailTicket(t, "fanout-5000-codes.eml")
	r := mustParse(t, `
routes:
  limits: {named_codes: 100, keywords: 10}
  rules:
    - name: codes
      continue: true
      actions:
        - {kind: imap.flag, target: "$triage {{range .Codes}}$ngrok-{{.Code}} {{end}}"}
    - name: again
      continue: true
      actions:
        - {kind: imap.flag, target: "$TRIAGE $ngrok-100"}
    - name: more
      actions:
        - {kind: imap.flag, target: "$late"}
`)
	d, err := r.Decide(in)
	require.Error(t, err)
	assert.Contains(t, err.Error(), `rule "more": action 1 (imap.flag): target: the ticket's imap.flag actions already set 10 keywords`)
	require.Len(t, d.Actions, 3)
	assert.Len(t, strings.Fields(d.Actions[0].Target), 10)
	assert.Equal(t, "$triage $ngrok-100 $ngrok-101 $ngrok-102 $ngrok-103 $ngrok-104 $ngrok-105 $ngrok-106 $ngrok-107 $ngrok-108", d.Actions[0].Target)
	assert.Equal(t, "$TRIAGE $ngrok-100", d.Actions[1].Target, "keywords set already cost nothing")
	assert.True(t, Parked(d.Actions[2]), "the third is parked with the reason, never sent")
	assert.Contains(t, d.Actions[2].LastError, "already set 10 keywords")
}

// hostileSubjects reads testdata/hostile-subjects.txt.
func hostileSubjects(t *testing.T) []string {
	t.Helper()
	f, err := os.Open("testdata/hostile-subjects.txt")
	require.NoError(t, err)
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if line := sc.Text(); line != "" && !strings.HasPrefix(line, "#") {
			out = append(out, line)
		}
	}
	require.NoError(t, sc.Err())
	require.NotEmpty(t, out)
	return out
}

// TestHostileFlagTargets: whatever the subject, an imap.flag target built
// from it sets exactly the keywords the route writes, each an IMAP atom,
// and never a system flag.
func TestHostileFlagTargets(t *testing.T) {
	r := mustParse(t, `
routes:
  rules:
    - name: r
      actions:
        - {kind: imap.flag, target: "{{.Ticket.Subject}}"}
        - {kind: imap.flag, target: "$subj-{{.Ticket.Subject}} \\Flagged"}
        - {kind: imap.flag, target: "{{.Ticket.Subject | lower}}"}
`)
	for _, subject := range hostileSubjects(t) {
		t.Run(subject, func(t *testing.T) {
			d, err := r.Decide(Input{Ticket: emailTicket("ana@example.com", subject, "hello", "")})
			require.NoError(t, err)
			require.Len(t, d.Actions, 3)
			for i, a := range d.Actions {
				words := strings.Fields(a.Target)
				want := 1
				if i == 1 {
					want = 2
					assert.Equal(t, `\Flagged`, words[len(words)-1], "the route's own flag")
				}
				require.Len(t, words, want, "target %q", a.Target)
				assert.False(t, strings.HasPrefix(words[0], `\`), "%q starts a system flag", words[0])
				assert.Empty(t, keywordProblem(words[0]), "%q is not an atom", words[0])
			}
		})
	}
	d, err := r.Decide(Input{Ticket: emailTicket("ana@example.com", `x \Seen \Flagged $Junk`, "hello", "")})
	require.NoError(t, err)
	assert.Equal(t, "x-Seen-Flagged-$Junk", d.Actions[0].Target)
	assert.Equal(t, `$subj-x-Seen-Flagged-$Junk \Flagged`, d.Actions[1].Target)
}

// TestHostileFolderTargets: a folder built from the subject (allowed
// explicitly) never holds a wildcard, a control character or a new
// level, and never is a special-use mailbox; such an action is left out
// and reported.
func TestHostileFolderTargets(t *testing.T) {
	r := mustParse(t, `
routes:
  rules:
    - name: r
      actions:
        - {kind: imap.move, target: "{{.Ticket.Subject}}", allow_customer_folders: true}
        - {kind: imap.move, target: "Customers/{{.Ticket.Subject}}", allow_customer_folders: true}
        - {kind: maildir.move, target: "{{.Ticket.Subject}}", allow_customer_folders: true}
`)
	for _, subject := range hostileSubjects(t) {
		t.Run(subject, func(t *testing.T) {
			d, err := r.Decide(Input{Ticket: emailTicket("ana@example.com", subject, "hello", "")})
			var planned []ticket.Action
			for _, a := range d.Actions {
				if Parked(a) {
					// Parked with the reason, its target as written:
					// nothing of the subject reaches a folder.
					assert.Equal(t, ticket.StateFailed, a.State)
					assert.Contains(t, a.Target, "{{.Ticket.Subject}}")
					assert.Empty(t, a.Payload)
					continue
				}
				planned = append(planned, a)
				assert.Empty(t, folderProblem(a.Target, ""), "target %q", a.Target)
				assert.NotContains(t, strings.TrimPrefix(a.Target, "Customers/"), "/", "no new level")
				assert.NotContains(t, a.Target, ".", "no new Maildir++ level")
			}
			if err != nil {
				assert.Contains(t, err.Error(), "special-use mailbox")
				assert.Len(t, planned, 1, "only the one under Customers/ is planned")
				assert.Len(t, d.Actions, 3, "the other two are parked")
			}
		})
	}
	for _, subject := range []string{"*", "%", "Trash", "Drafts", "inbox"} {
		d, err := r.Decide(Input{Ticket: emailTicket("ana@example.com", subject, "hello", "")})
		for _, a := range d.Actions {
			assert.NotContains(t, []string{"*", "%", "Trash", "Drafts", "inbox", "INBOX"}, a.Target)
		}
		if subject == "*" || subject == "%" {
			require.NoError(t, err)
			assert.Equal(t, "-", d.Actions[0].Target)
		} else {
			require.Error(t, err, subject)
		}
	}

	// A special-use name the route writes itself is the route's choice.
	lit := mustParse(t, `
routes:
  rules:
    - name: r
      actions:
        - {kind: imap.move, target: "{{if .Primary}}Triage{{else}}Trash{{end}}"}
        - {kind: imap.move, target: Junk}
`)
	d, err := lit.Decide(Input{Ticket: emailTicket("ana@example.com", "hi", "hello", "")})
	require.NoError(t, err)
	assert.Equal(t, "Trash", d.Actions[0].Target)
	assert.Equal(t, "Junk", d.Actions[1].Target)
}

// TestTargetsRefusedAtLoad: what a flag or folder target may not be is an
// error with its file and line when the rules load.
func TestTargetsRefusedAtLoad(t *testing.T) {
	data, err := os.ReadFile("testdata/refused-targets.yaml")
	require.NoError(t, err)
	_, err = Parse("refused-targets.yaml", data, Options{})
	require.Error(t, err)
	want := []string{
		`refused-targets.yaml:8: rule "deleted": action 1 (imap.flag): target: \Deleted is a system flag the bot never sets`,
		`refused-targets.yaml:13: rule "recent": action 1 (imap.flag): target: \Recent is not a system flag the bot sets`,
		`refused-targets.yaml:18: rule "glued": action 1 (imap.flag): target: "\\{{…}}": a system flag must be a word of its own`,
		`refused-targets.yaml:23: rule "bad keyword": action 1 (imap.flag): target: "(urgent)" is not a valid IMAP keyword`,
		`refused-targets.yaml:28: rule "too many": action 1 (imap.flag): target names 11 keywords, more than limits.keywords (10)`,
		`refused-targets.yaml:33: rule "subject folder": action 1 (imap.move): target uses .Ticket.Subject, which the customer writes`,
		`refused-targets.yaml:38: rule "phrase folder": action 1 (maildir.move): target uses .Phrase, which the customer writes`,
		`refused-targets.yaml:43: rule "wildcard": action 1 (imap.move): target "Triage/*" holds an IMAP wildcard`,
		`refused-targets.yaml:48: rule "not a folder": action 1 (imap.flag): allow_customer_folders applies only to imap.move and maildir.move`,
		`refused-targets.yaml:51: limits: named_codes: 0 is out of range`,
	}
	problems := strings.Split(err.Error(), "\n")
	for _, w := range want {
		found := false
		for _, p := range problems {
			found = found || strings.HasPrefix(p, w)
		}
		assert.True(t, found, "want %s\ngot:\n%v", w, err)
	}
	assert.Len(t, problems, len(want), "%v", err)
}

// TestTargetsAllowedAtLoad: the harmless system flags, folders built from
// the catalog, and customer folders allowed explicitly all load.
func TestTargetsAllowedAtLoad(t *testing.T) {
	r := mustParse(t, `
routes:
  limits: {named_codes: 3, payload_codes: 7, keywords: 4, text_chars: 100}
  rules:
    - name: r
      actions:
        - {kind: imap.flag, target: "\\Flagged \\Seen $triage"}
        - {kind: imap.flag, target: "\\Answered $ngrok-{{.Primary}}"}
        - {kind: imap.move, target: "Triage/{{.Primary}}"}
        - {kind: imap.move, target: "Customers/{{.Ticket.From}}", allow_customer_folders: true}
        - {kind: maildir.move, target: Trash}
`)
	assert.Equal(t, Limits{NamedCodes: 3, PayloadCodes: 7, Keywords: 4, TextChars: 100}, r.Limits())
	assert.Equal(t, Limits{NamedCodes: 5, PayloadCodes: 50, Keywords: 10, TextChars: 16000}, mustParse(t, "").Limits())
}
