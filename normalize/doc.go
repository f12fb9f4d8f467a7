// Package normalize turns raw input into a ticket's text parts: the one
// place that knows about MIME, charsets, transfer encodings, HTML and
// quoted history, so that extraction only ever sees plain UTF-8 text.
//
// Message reads an RFC 5322 message: headers (From, To, Subject, Date,
// threading IDs, and the headers loop safety needs), then its MIME tree,
// walked by hand with a depth counter (go-message has no nesting limit),
// into subject, body, quoted and attachment parts. Text reads a plain-text
// file. HTMLToText and SplitQuoted are the building blocks both use, and
// are exported for other sources (a Slack message, an API request).
// SlackMessage reads a Slack message's text, Block Kit blocks and
// attachments one element at a time, within fixed bounds on indents,
// offsets, nesting and counts besides Limits.
//
// Everything here is pure: no file or network I/O, no logging, no global
// state. Bad input never panics and never fails a ticket that has anything
// readable: what could not be read is listed, for a person, in the
// ticket's Problems. Memory is bounded by Limits, whatever the input size
// or nesting: text is read in chunks up to the part and ticket caps, and
// parts that are skipped or cut are streamed past, not held.
package normalize
