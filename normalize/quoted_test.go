package normalize

import (
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestSplitQuoted(t *testing.T) {
	tests := []struct {
		name         string
		text         string
		body, quoted string
	}{
		{
			name: "no history",
			text: "Hello\nERR_NGROK_108\n",
			body: "Hello\nERR_NGROK_108",
		},
		{
			name:   "angle quoted lines",
			text:   "New text ERR_NGROK_120\n\n> old text ERR_NGROK_108\n  > indented old\n",
			body:   "New text ERR_NGROK_120",
			quoted: "> old text ERR_NGROK_108\n  > indented old",
		},
		{
			name:   "inline reply keeps both sides",
			text:   "> question one?\nanswer one\n> question two?\nanswer two\n",
			body:   "answer one\nanswer two",
			quoted: "> question one?\n> question two?",
		},
		{
			name:   "on wrote one line",
			text:   "Still broken.\n\nOn Mon, Nov 24, 2026 at 9:00 AM Support <s@example.com> wrote:\nplain history ERR_NGROK_108\n",
			body:   "Still broken.",
			quoted: "On Mon, Nov 24, 2026 at 9:00 AM Support <s@example.com> wrote:\nplain history ERR_NGROK_108",
		},
		{
			name:   "on wrote wrapped over two lines",
			text:   "Fixed.\nOn Mon, Nov 24, 2026 at 9:00 AM Support <s@example.com>\nwrote:\n> x\n",
			body:   "Fixed.",
			quoted: "On Mon, Nov 24, 2026 at 9:00 AM Support <s@example.com>\nwrote:\n> x",
		},
		{
			name:   "german attribution",
			text:   "Neu.\nAm 24.11.2026 um 10:02 schrieb Jane Doe <jane@example.org>:\nalt\n",
			body:   "Neu.",
			quoted: "Am 24.11.2026 um 10:02 schrieb Jane Doe <jane@example.org>:\nalt",
		},
		{
			name:   "french attribution",
			text:   "Nouveau.\nLe lun. 24 nov. 2026 à 10:02, Jane <jane@example.org> a écrit :\nancien\n",
			body:   "Nouveau.",
			quoted: "Le lun. 24 nov. 2026 à 10:02, Jane <jane@example.org> a écrit :\nancien",
		},
		{
			name:   "spanish attribution",
			text:   "Nuevo.\nEl lun, 24 nov 2026 a las 10:02, Jane (<jane@example.org>) escribió:\nviejo\n",
			body:   "Nuevo.",
			quoted: "El lun, 24 nov 2026 a las 10:02, Jane (<jane@example.org>) escribió:\nviejo",
		},
		{
			name: "a sentence with wrote is not an attribution",
			text: "On Monday I wrote:\nthe agent failed\n",
			body: "On Monday I wrote:\nthe agent failed",
		},
		{
			name:   "outlook block with separator",
			text:   "New ERR_NGROK_3202\n\n________________________________\nFrom: Support <s@example.com>\nSent: Thursday, December 4, 2026 17:40\nTo: Petra\nSubject: RE: case\n\nold ERR_NGROK_3200\n",
			body:   "New ERR_NGROK_3202",
			quoted: "________________________________\nFrom: Support <s@example.com>\nSent: Thursday, December 4, 2026 17:40\nTo: Petra\nSubject: RE: case\n\nold ERR_NGROK_3200",
		},
		{
			name:   "outlook bold markers and date",
			text:   "New\n*From:* Support\n*Date:* Thu\n*Subject:* case\nold\n",
			body:   "New",
			quoted: "*From:* Support\n*Date:* Thu\n*Subject:* case\nold",
		},
		{
			name:   "original message marker",
			text:   "New\n-----Original Message-----\nold\n",
			body:   "New",
			quoted: "-----Original Message-----\nold",
		},
		{
			name:   "german outlook block",
			text:   "Neu\nVon: Support\nGesendet: Donnerstag\nAn: Petra\nBetreff: AW: Fall\nalt\n",
			body:   "Neu",
			quoted: "Von: Support\nGesendet: Donnerstag\nAn: Petra\nBetreff: AW: Fall\nalt",
		},
		{
			name: "from line without a block is text",
			text: "From: the agent log\nERR_NGROK_108\n",
			body: "From: the agent log\nERR_NGROK_108",
		},
		{
			name: "gmail inline forward is new text",
			text: "FYI\n---------- Forwarded message ---------\nFrom: Carla <c@example.org>\nDate: Fri, Dec 5, 2026\nSubject: q\nTo: <se@example.org>\n\nERR_NGROK_334\n",
			body: "FYI\n---------- Forwarded message ---------\nFrom: Carla <c@example.org>\nDate: Fri, Dec 5, 2026\nSubject: q\nTo: <se@example.org>\n\nERR_NGROK_334",
		},
		{
			name: "apple forward is new text",
			text: "See below\nBegin forwarded message:\n\nFrom: Carla <c@example.org>\nSubject: q\nDate: 5 December 2026\nTo: se@example.org\n\nERR_NGROK_334\n",
			body: "See below\nBegin forwarded message:\n\nFrom: Carla <c@example.org>\nSubject: q\nDate: 5 December 2026\nTo: se@example.org\n\nERR_NGROK_334",
		},
		{
			name: "outlook forward block is new text",
			text: "FYI\n________________________________\nFrom: Carla\nSent: Friday\nTo: SE\nSubject: FW: agent\n\nERR_NGROK_334\n",
			body: "FYI\n________________________________\nFrom: Carla\nSent: Friday\nTo: SE\nSubject: FW: agent\n\nERR_NGROK_334",
		},
		{
			name:   "history inside a forward is still quoted",
			text:   "FYI\n---------- Forwarded message ---------\nFrom: Carla\nDate: Fri\nSubject: q\nTo: SE\n\nnew ERR_NGROK_334\n\nOn Fri, Dec 5, 2026 at 9:00 AM SE <se@example.org> wrote:\n> old\n",
			body:   "FYI\n---------- Forwarded message ---------\nFrom: Carla\nDate: Fri\nSubject: q\nTo: SE\n\nnew ERR_NGROK_334",
			quoted: "On Fri, Dec 5, 2026 at 9:00 AM SE <se@example.org> wrote:\n> old",
		},
		{
			name:   "bottom-posted german reply: the text below the quote is new",
			text:   "Am 24.11.2026 um 10:02 schrieb Support <s@example.com>:\n> Bitte senden Sie das Log.\n\nHier ist es: ERR_NGROK_3200\n",
			body:   "Hier ist es: ERR_NGROK_3200",
			quoted: "Am 24.11.2026 um 10:02 schrieb Support <s@example.com>:\n> Bitte senden Sie das Log.",
		},
		{
			name:   "interleaved after an attribution",
			text:   "On Mon, Nov 24, 2026 at 9:00 AM Support <s@example.com> wrote:\n\n> Which version?\n3.19\n> Which OS?\nDebian, and it says ERR_NGROK_120\n",
			body:   "3.19\nDebian, and it says ERR_NGROK_120",
			quoted: "On Mon, Nov 24, 2026 at 9:00 AM Support <s@example.com> wrote:\n\n> Which version?\n> Which OS?",
		},
		{
			name:   "attribution without markers still ends the new text",
			text:   "Top.\nOn Mon, Nov 24, 2026 at 9:00 AM Support <s@example.com> wrote:\n\nold unmarked\n> marked\nmore old\n",
			body:   "Top.",
			quoted: "On Mon, Nov 24, 2026 at 9:00 AM Support <s@example.com> wrote:\n\nold unmarked\n> marked\nmore old",
		},
		{
			name: "gmx original nachricht is an inline forward",
			text: "Zur Info\n\n----- Original Nachricht -----\nVon: Kai <k@example.org>\nAn: Ops <o@example.org>\nDatum: 24.11.2026 10:02\nBetreff: Agent\n\nERR_NGROK_108\n",
			body: "Zur Info\n\n----- Original Nachricht -----\nVon: Kai <k@example.org>\nAn: Ops <o@example.org>\nDatum: 24.11.2026 10:02\nBetreff: Agent\n\nERR_NGROK_108",
		},
		{
			name: "thunderbird forwarded message is new text",
			text: "FYI\n\n-------- Forwarded Message --------\nSubject: agent\nDate: Mon, 24 Nov 2026 10:02:00 +0100\nFrom: Kai <k@example.org>\nTo: Ops <o@example.org>\n\nERR_NGROK_108\n",
			body: "FYI\n\n-------- Forwarded Message --------\nSubject: agent\nDate: Mon, 24 Nov 2026 10:02:00 +0100\nFrom: Kai <k@example.org>\nTo: Ops <o@example.org>\n\nERR_NGROK_108",
		},
		{
			name:   "only history",
			text:   "> all quoted\n",
			quoted: "> all quoted",
		},
		{name: "empty"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body, quoted := SplitQuoted(tt.text)
			assert.Equal(t, tt.body, body, "body")
			assert.Equal(t, tt.quoted, quoted, "quoted")
		})
	}
}

// TestForwardMarkerFastPath: ASCII lines are lower-cased on the stack;
// the answer must be what lower-casing the whole line gives.
func TestForwardMarkerFastPath(t *testing.T) {
	slow := func(l string) bool {
		l = strings.ToLower(strings.TrimSpace(l))
		if l == "" || len(l) > 120 {
			return false
		}
		for _, m := range forwardMarkers {
			if strings.Contains(l, m) {
				return true
			}
		}
		return false
	}
	r := rand.New(rand.NewPCG(5, 6))
	pieces := []string{"-", " ", "Fwd:", "message", "MESSAGE", "Nachricht", "mensaje", "MENSAGEM", "x", "é", "İ", "\t",
		"\u212a", "ẞ", strings.Repeat("y", 50)}
	for _, m := range forwardMarkers {
		pieces = append(pieces, m, strings.ToUpper(m))
	}
	for range 20000 {
		var b strings.Builder
		for range r.IntN(8) {
			p := pieces[r.IntN(len(pieces))]
			if r.IntN(3) == 0 { // random case
				q := []byte(p)
				for i := range q {
					if r.IntN(2) == 0 && q[i] >= 'a' && q[i] <= 'z' {
						q[i] -= 'a' - 'A'
					}
				}
				p = string(q)
			}
			b.WriteString(p)
		}
		l := b.String()
		require.Equal(t, slow(l), isForwardMarker(l), "%q", l)
	}
	assert.True(t, isForwardMarker("---------- Forwarded message ---------"))
	assert.True(t, isForwardMarker("Begin forwarded message:"))
	assert.False(t, isForwardMarker("Thanks for your help."))
}
