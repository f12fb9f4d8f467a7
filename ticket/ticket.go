// Package ticket holds the shared nouns of the triage pipeline: a Ticket and
// its text Parts as produced by normalization, and the Matches found in them.
//
// It imports only the standard library so that every stage can depend on it
// without depending on each other.
package ticket

import "time"

// PartKind says what a Part of a ticket's text is.
type PartKind string

// The kinds of text a ticket carries. New text (subject, body, attachments)
// is what the customer reports now; quoted history is what an earlier mail
// in the thread said and is ranked below new text.
const (
	// KindSubject is the mail's subject line or a chat message's title.
	KindSubject PartKind = "subject"
	// KindBody is new text written by the sender.
	KindBody PartKind = "body"
	// KindQuoted is quoted history: "> " lines, "On … wrote:" blocks,
	// Outlook "From: … Sent: …" blocks, HTML blockquotes.
	KindQuoted PartKind = "quoted"
	// KindAttachment is a text-like attachment (.log, .txt, .json, .yml …).
	KindAttachment PartKind = "attachment"
)

// Part is one piece of a ticket's text after normalization: decoded, in
// UTF-8, HTML turned into plain text.
type Part struct {
	// Kind says whether this is subject, new body text, quoted history or an
	// attachment.
	Kind PartKind `json:"kind"`
	// Name is the attachment's file name, or the forwarded message's subject
	// for parts of a message/rfc822; empty otherwise.
	Name string `json:"name,omitempty"`
	// ContentType is the MIME type the text came from (text/plain,
	// text/html, …).
	ContentType string `json:"content_type,omitempty"`
	// Forwarded is true when the part came from inside a forwarded
	// message/rfc822.
	Forwarded bool `json:"forwarded,omitempty"`
	// Text is the normalized text.
	Text string `json:"text,omitempty"`
	// Truncated is true when the part was cut at the size limit.
	Truncated bool `json:"truncated,omitempty"`
}

// Ticket is one customer report: a mail, a Slack message, an API request,
// or a plain text file, normalized into text parts.
type Ticket struct {
	// ID is stable per source, e.g. "imap:<account>/<mailbox>/<uidvalidity>/<uid>",
	// "slack:<team>/<channel>/<ts>", or "file:<path>#<n>" for scans.
	ID string `json:"id"`
	// Source names where the ticket came from: "email", "slack", "api", "file".
	Source string `json:"source"`
	// Channel is the mailbox, Slack channel or input file.
	Channel string `json:"channel,omitempty"`
	// From is the sender's address (mail) or user ID (Slack).
	From string `json:"from,omitempty"`
	// To lists the mail's recipients.
	To []string `json:"to,omitempty"`
	// Subject is the decoded subject line.
	Subject string `json:"subject,omitempty"`
	// MessageID is the mail's Message-ID without angle brackets.
	MessageID string `json:"message_id,omitempty"`
	// InReplyTo and References thread the mail (without angle brackets).
	InReplyTo  string   `json:"in_reply_to,omitempty"`
	References []string `json:"references,omitempty"`
	// Date is when the sender says it was written; zero when unknown.
	Date time.Time `json:"date,omitzero"`
	// Headers keeps the headers needed for loop safety, sender
	// authentication and routing (Auto-Submitted, Precedence, List-Id,
	// List-Unsubscribe, Return-Path, X-Autoreply, Content-Type of the top
	// part, Reply-To), canonical keys, the first instance of each; and
	// Authentication-Results, the topmost few instances, one per line.
	Headers map[string]string `json:"headers,omitempty"`
	// Parts are the text parts, in document order.
	Parts []Part `json:"parts"`
	// Problems lists what could not be read (unknown charset, truncated
	// part, too deep nesting); the ticket holds what could be read.
	Problems []string `json:"problems,omitempty"`
}

// Match is one ngrok error code found in a ticket.
type Match struct {
	// Code is the number n of ERR_NGROK_n.
	Code int `json:"code"`
	// Canonical is "ERR_NGROK_<n>".
	Canonical string `json:"canonical"`
	// Part indexes Ticket.Parts.
	Part int `json:"part"`
	// PartKind repeats the kind of that part for readers of JSON output.
	PartKind PartKind `json:"where"`
	// PartName repeats the attachment's name, if any.
	PartName string `json:"name,omitempty"`
	// Offset is the byte offset of the match in the part's text.
	Offset int64 `json:"offset"`
	// Text is the text as written, e.g. "err\_ngrok\_108".
	Text string `json:"text"`
	// Form names how it was written (see extract.Form).
	Form string `json:"form"`
	// Confidence is 1.0 for unambiguous forms, lower for loose ones.
	Confidence float64 `json:"confidence"`
	// Quoted is true when the match sits in quoted history.
	Quoted bool `json:"quoted,omitempty"`
}
