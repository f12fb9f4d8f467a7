// Command sigregex prints one regular expression (Rust and RE2 syntax)
// that finds the embedded catalog's signature phrases, for the peers of
// bench/extract.sh: ripgrep and a plain regexp then do the wording
// pass's work too. Words are runs of ASCII letters and digits separated
// by anything else, a * is 1 to 8 words, and word* is a word starting
// with word: the rules of docs/signatures.md, approximately (bytes >=
// 0x80 are not word bytes here).
package main

import (
	"fmt"
	"log"
	"strings"

	"github.com/triage-bot/triage/catalog"
)

func main() {
	cat, err := catalog.Default()
	if err != nil {
		log.Fatal(err)
	}
	seen := map[string]bool{}
	var alts []string
	for _, s := range cat.Signatures() {
		if seen[s.Phrase] {
			continue
		}
		seen[s.Phrase] = true
		var re strings.Builder
		re.WriteString(`\b`)
		const word, sep = `[0-9A-Za-z]`, `[^0-9A-Za-z]+`
		for i, w := range strings.Split(s.Phrase, " ") {
			switch {
			case w == "*":
				re.WriteString(`(?:` + sep + word + `+){1,8}`)
				continue
			case i > 0:
				re.WriteString(sep)
			}
			if lit, ok := strings.CutSuffix(w, "*"); ok {
				re.WriteString(lit + word + `*`)
			} else {
				re.WriteString(w)
			}
		}
		re.WriteString(`\b`)
		alts = append(alts, re.String())
	}
	fmt.Println(strings.Join(alts, "|"))
}
