// Command genmaildir writes a Maildir of N support mails for benchmarks,
// cycling through the sample inbox's shapes (plain, quoted-printable,
// base64, HTML-only, multipart with attachments, forwards, replies,
// non-English, robots).
package main

import (
	"flag"
	"fmt"
	"log"
	"os"

	"github.com/triage-bot/triage/internal/mailgen"
)

func main() {
	dir := flag.String("o", "maildir", "Maildir to create")
	n := flag.Int("n", 20000, "number of messages")
	flag.Parse()
	if _, err := mailgen.Maildir(*dir, *n); err != nil {
		log.Fatal(err)
	}
	fmt.Fprintf(os.Stderr, "genmaildir: %d messages in %s\n", *n, *dir)
}
