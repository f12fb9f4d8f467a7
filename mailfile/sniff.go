// Package mailfile finds mail in files and folders for `triage scan`: it
// tells a single message from an mbox and from plain text by looking at a
// file's first bytes (Sniff), splits an mbox into its messages without
// holding more than one line in memory (MboxReader), and lists the files of
// a Maildir or any folder tree in a stable order (Walk).
//
// It reads and parses nothing more: decoding a message is normalize's job.
package mailfile

import (
	"bytes"
	"strings"
)

// Kind says what a file holds.
type Kind int

// The kinds of input Sniff tells apart.
const (
	// Text is anything that is not mail: a log, a pasted conversation.
	Text Kind = iota
	// Message is one RFC 5322 message (.eml).
	Message
	// Mbox is a sequence of messages, each after a "From " postmark line.
	Mbox
)

// String names the kind for messages and logs.
func (k Kind) String() string {
	switch k {
	case Message:
		return "message"
	case Mbox:
		return "mbox"
	}
	return "text"
}

// minHeaderFields is how many header fields a block needs before it is
// taken for mail.
const minHeaderFields = 2

// Sniff tells from the first bytes of a file whether it is a single
// message, an mbox, or plain text. A few KiB are plenty for most mail;
// give it more (scan gives 64 KiB) so that long header lines, such as
// signatures and anti-spam reports, fit.
//
// A message starts with a block of header lines ("Name: value", folded
// continuation lines allowed) that holds at least two fields, one of them a
// name every mail carries (From, To, Subject, Date, Message-ID, Received,
// MIME-Version, Return-Path, Delivered-To), and that ends at a blank line or
// runs past head; a line cut by the end of head counts when it starts with
// a field name. So a log starting "ERROR: timeout" or "2026-11-24 ERROR: x"
// is text. Once the block holds such fields, a line without a field name is
// taken for a field folded without its leading blank, as mail clients read
// it (normalize repairs it the same way), not for the end of mail. An mbox
// starts with a "From " line followed by such a block. A UTF-8 byte order
// mark and CRLF line ends are allowed.
func Sniff(head []byte) Kind {
	head = bytes.TrimPrefix(head, []byte{0xEF, 0xBB, 0xBF})
	if bytes.HasPrefix(head, []byte("From ")) {
		i := bytes.IndexByte(head, '\n')
		if i >= 0 && isHeaderBlock(head[i+1:]) {
			return Mbox
		}
		return Text
	}
	if isHeaderBlock(head) {
		return Message
	}
	return Text
}

// isHeaderBlock reports whether b starts with a mail header block.
func isHeaderBlock(b []byte) bool {
	fields, known := 0, false
	isBlock := func() bool { return fields >= minHeaderFields && known }
	for len(b) > 0 {
		i := bytes.IndexByte(b, '\n')
		cut := i < 0
		line := b
		if !cut {
			line, b = bytes.TrimSuffix(b[:i], []byte("\r")), b[i+1:]
		}
		if len(line) == 0 {
			// The blank line that ends the header block.
			return isBlock()
		}
		if line[0] == ' ' || line[0] == '\t' {
			if fields == 0 {
				return false
			}
		} else if name, ok := headerName(line); ok {
			fields++
			if isKnownHeader(name) {
				known = true
			}
		} else if !isBlock() && !cut {
			return false
		}
		if cut {
			// The head ends inside this line; judge by what came before.
			break
		}
	}
	return isBlock()
}

// headerName returns the field name of a "Name: value" line; RFC 5322
// allows printable ASCII except colon, and no blanks.
func headerName(line []byte) (string, bool) {
	i := bytes.IndexByte(line, ':')
	if i <= 0 || i > 76 {
		return "", false
	}
	for _, c := range line[:i] {
		if c <= ' ' || c > '~' {
			return "", false
		}
	}
	return string(line[:i]), true
}

func isKnownHeader(name string) bool {
	for _, k := range []string{
		"From", "To", "Subject", "Date", "Message-ID", "Received",
		"MIME-Version", "Return-Path", "Delivered-To",
	} {
		if strings.EqualFold(name, k) {
			return true
		}
	}
	return false
}
