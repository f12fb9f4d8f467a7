// Package mailgen writes Maildirs of many support mails for benchmarks and
// crash tests, cycling through the sample inbox's shapes and giving each
// copy its own file name and Message-ID.
package mailgen

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"

	"github.com/triage-bot/triage/examples"
)

var messageID = regexp.MustCompile(`(?mi)^Message-ID:\s*<([^>]*)>`)

// Samples returns the sample inbox's messages in name order.
func Samples() ([][]byte, error) {
	inbox := examples.Inbox()
	var out [][]byte
	err := fs.WalkDir(inbox, "new", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(inbox, p)
		out = append(out, b)
		return err
	})
	return out, err
}

// Maildir creates dir as a Maildir and writes n messages into new/. It
// returns the file names written.
func Maildir(dir string, n int) ([]string, error) {
	samples, err := Samples()
	if err != nil {
		return nil, err
	}
	for _, d := range []string{"new", "cur", "tmp"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			return nil, err
		}
	}
	names := make([]string, 0, n)
	for i := 0; i < n; i++ {
		msg := samples[i%len(samples)]
		msg = messageID.ReplaceAll(msg, []byte(fmt.Sprintf("Message-ID: <gen-%d.$1>", i)))
		name := fmt.Sprintf("%d.M%dP1.gen", 1790000000+i, i)
		if err := os.WriteFile(filepath.Join(dir, "new", name), msg, 0o644); err != nil {
			return nil, err
		}
		names = append(names, name)
	}
	return names, nil
}
