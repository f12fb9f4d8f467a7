package normalize

import (
	"fmt"
	"io"

	"github.com/triage-bot/triage/ticket"
)

// Text reads a plain-text input that is not mail (a pasted log, a saved
// chat) as a ticket with Source "file", Channel name, no subject, and the
// text as a KindBody part, with quoted history split off into a KindQuoted
// part (see SplitQuoted).
//
// At most min(MaxPartBytes, MaxTextBytes) bytes are kept; beyond that the
// parts are marked Truncated and the rest of r is not read. The text is
// cleaned as in Message: byte order mark removed, CRLF and CR turned into LF,
// invalid UTF-8 replaced. An empty input gives a ticket without parts.
// Text returns an error only when reading r fails before anything was read;
// a later failure is noted in Problems.
func Text(name string, r io.Reader, lim Limits) (*ticket.Ticket, error) {
	lim = lim.withDefaults()
	t := &ticket.Ticket{Source: "file", Channel: name}
	w := &walker{lim: lim, t: t}
	text, truncated, invalid, _, err := readText(withUTF16(r), w.room())
	if err != nil {
		if text == "" {
			return nil, fmt.Errorf("normalize: read %s: %w", name, err)
		}
		w.problem(fmt.Sprintf("%s: reading stopped early (%v); the text read before it is kept", name, err))
	}
	if invalid {
		w.problem(name + ": the text is not valid UTF-8; invalid bytes were replaced")
	}
	if truncated {
		w.problem(fmt.Sprintf("%s: longer than %d bytes; the rest was not read", name, w.room()))
	}
	body, quoted := SplitQuoted(text)
	if body != "" || quoted == "" && truncated {
		w.add(ticket.Part{Kind: ticket.KindBody, ContentType: "text/plain", Text: body, Truncated: truncated})
	}
	if quoted != "" {
		w.add(ticket.Part{Kind: ticket.KindQuoted, ContentType: "text/plain", Text: quoted, Truncated: truncated})
	}
	return t, nil
}
