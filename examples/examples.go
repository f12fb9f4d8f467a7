// Package examples embeds the sample inbox, so `triage run` with no
// config file has real mail to work on wherever the binary runs.
package examples

import (
	"embed"
	"io/fs"
)

//go:embed inbox/new
var inbox embed.FS

// Inbox returns the sample support mails: a file system whose root holds
// the Maildir's new/ folder.
func Inbox() fs.FS {
	sub, err := fs.Sub(inbox, "inbox")
	if err != nil {
		panic(err) // the embedded tree is fixed at build time
	}
	return sub
}
