package catalog

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
)

// A Signature names an ngrok error by its wording alone: a short phrase
// that, found in a ticket without any ERR_NGROK_ code, says which error the
// customer hit ("limited to * simultaneous ngrok * session*" is 108).
//
// Signatures come from three places: the embedded data/signatures.tsv,
// the `signatures:` lists of overlay files, and phrases derived from the
// official messages that `triage catalog sync` stored (Derived == true).
// The catalog stores, validates and derives them; matching them against
// text is the extract package's job.
//
// The same phrase listed under two codes is deliberate: it means "this
// wording fits both", and a matcher must not pick one of them on its own.
type Signature struct {
	// Code is n in ERR_NGROK_n.
	Code int
	// Phrase is the phrase as written (see ParsePhrase for the syntax).
	Phrase string
	// Tokens is Phrase parsed; shared, must not be modified.
	Tokens Phrase
	// Derived is true for phrases made from a synced official message.
	Derived bool
	// Source says where the phrase was given: "file:line", or
	// "official ERR_NGROK_n" for derived ones.
	Source string
}

// Limits of the phrase syntax.
const (
	// MaxGap is the most text tokens one wildcard (*) stands for; it
	// stands for at least one.
	MaxGap = 8
	// MinPhraseTokens and MaxPhraseTokens bound the tokens of a written
	// phrase, wildcards included. Seven is also what keeps a phrase a
	// fact rather than a copy: no 8-word run of ngrok's text fits.
	MinPhraseTokens = 3
	MaxPhraseTokens = 7
	// MaxDerivedTokens bounds a phrase derived from an official message.
	// Those stay on the user's machine, so they may be longer.
	MaxDerivedTokens = 12
	// MinLiterals is the fewest non-wildcard tokens of a written phrase;
	// a derived phrase needs MinDerivedLiterals.
	MinLiterals        = 3
	MinDerivedLiterals = 4
	// MinPrefix is the shortest prefix a "word*" token may have.
	MinPrefix = 3
)

// TokenKind says how a phrase token matches text tokens.
type TokenKind uint8

// Token kinds.
const (
	// Literal matches exactly one text token equal to Text.
	Literal TokenKind = iota
	// Prefix ("session*") matches exactly one text token that starts
	// with Text (Text itself included).
	Prefix
	// Wildcard ("*") matches 1 to MaxGap consecutive text tokens,
	// whatever they are.
	Wildcard
)

// PhraseToken is one token of a parsed phrase.
type PhraseToken struct {
	Kind TokenKind
	// Text is the word (Literal) or the prefix without its * (Prefix);
	// empty for Wildcard.
	Text string
}

// String writes the token back in phrase syntax.
func (t PhraseToken) String() string {
	switch t.Kind {
	case Prefix:
		return t.Text + "*"
	case Wildcard:
		return "*"
	}
	return t.Text
}

// Phrase is a parsed, validated signature phrase.
type Phrase []PhraseToken

// String writes the phrase back in its syntax: tokens joined by a space.
func (p Phrase) String() string {
	parts := make([]string, len(p))
	for i, t := range p {
		parts[i] = t.String()
	}
	return strings.Join(parts, " ")
}

// Literals counts the tokens that are not wildcards.
func (p Phrase) Literals() int {
	n := 0
	for _, t := range p {
		if t.Kind != Wildcard {
			n++
		}
	}
	return n
}

// Tokens splits text into the tokens phrases are matched against. This is
// the reference definition; a faster matcher must give the same tokens.
//
//   - Bytes are read one by one, with no Unicode decoding. ASCII letters
//     are lower-cased; every other byte keeps its value.
//   - A token is a maximal run of ASCII letters, ASCII digits and bytes
//     >= 0x80 (so UTF-8 letters stay inside words).
//   - An apostrophe, ASCII ' or the UTF-8 ’ (E2 80 99), that has an ASCII
//     letter right before and right after it is dropped and the word goes
//     on: "you're" → "youre", "can’t" → "cant". Anywhere else ' is a
//     separator, while ’ (being bytes >= 0x80) is part of the token.
//   - Every other byte separates tokens.
//
// So "Tunnel foo.ngrok.io not found." gives
// [tunnel foo ngrok io not found], and "ERR_NGROK_108" gives
// [err ngrok 108].
func Tokens(s string) []string { return AppendTokens(nil, s) }

// AppendTokens appends the tokens of s (see Tokens) to dst.
func AppendTokens(dst []string, s string) []string {
	var cur []byte
	for i := 0; i < len(s); i++ {
		b := s[i]
		if len(cur) > 0 && isLetter(s[i-1]) {
			if b == '\'' && i+1 < len(s) && isLetter(s[i+1]) {
				continue
			}
			if b == 0xE2 && i+3 < len(s) && s[i+1] == 0x80 && s[i+2] == 0x99 && isLetter(s[i+3]) {
				i += 2
				continue
			}
		}
		if isTokenByte(b) {
			if 'A' <= b && b <= 'Z' {
				b += 'a' - 'A'
			}
			cur = append(cur, b)
			continue
		}
		if len(cur) > 0 {
			dst = append(dst, string(cur))
			cur = cur[:0]
		}
	}
	if len(cur) > 0 {
		dst = append(dst, string(cur))
	}
	return dst
}

func isLetter(b byte) bool { return 'a' <= b && b <= 'z' || 'A' <= b && b <= 'Z' }

func isTokenByte(b byte) bool { return isLetter(b) || '0' <= b && b <= '9' || b >= 0x80 }

// ParsePhrase reads and validates a written signature phrase:
//
//   - tokens separated by single spaces, in lower case;
//   - a literal token is one text token as Tokens would produce it
//     (so "youre", not "you're");
//   - "*" is a wildcard for 1 to MaxGap text tokens; two in a row are
//     refused (one already covers a gap);
//   - "word*" matches any text token starting with word (at least
//     MinPrefix characters) and counts as a literal;
//   - MinPhraseTokens to MaxPhraseTokens tokens in all, at least
//     MinLiterals literals, the first and last not a wildcard;
//   - at least one literal that is not a common word (see IsCommonWord),
//     so the phrase cannot match ordinary prose about tunnels and limits.
//
// Matching is on consecutive text tokens; only a wildcard skips any.
func ParsePhrase(s string) (Phrase, error) {
	return parsePhrase(s, MaxPhraseTokens, MinLiterals)
}

func parsePhrase(s string, maxTokens, minLiterals int) (Phrase, error) {
	if strings.TrimSpace(s) == "" {
		return nil, errors.New("empty phrase")
	}
	if strings.HasPrefix(s, " ") || strings.HasSuffix(s, " ") || strings.Contains(s, "  ") || strings.ContainsAny(s, "\t\r\n") {
		return nil, fmt.Errorf("phrase %q: separate tokens with single spaces, nothing before or after", s)
	}
	words := strings.Split(s, " ")
	p := make(Phrase, 0, len(words))
	for _, w := range words {
		t, err := parseToken(w)
		if err != nil {
			return nil, fmt.Errorf("phrase %q: %w", s, err)
		}
		if t.Kind == Wildcard && len(p) > 0 && p[len(p)-1].Kind == Wildcard {
			return nil, fmt.Errorf("phrase %q: two * in a row; one * already stands for 1 to %d words", s, MaxGap)
		}
		p = append(p, t)
	}
	switch {
	case len(p) < MinPhraseTokens || len(p) > maxTokens:
		return nil, fmt.Errorf("phrase %q has %d tokens; want %d to %d", s, len(p), MinPhraseTokens, maxTokens)
	case p[0].Kind == Wildcard || p[len(p)-1].Kind == Wildcard:
		return nil, fmt.Errorf("phrase %q: must start and end with a word, not *", s)
	case p.Literals() < minLiterals:
		return nil, fmt.Errorf("phrase %q has %d words besides *; want at least %d", s, p.Literals(), minLiterals)
	}
	if !slices.ContainsFunc(p, distinctive) {
		return nil, fmt.Errorf("phrase %q: every word is common in ordinary support prose; add a word particular to the error", s)
	}
	return p, nil
}

func parseToken(w string) (PhraseToken, error) {
	if w == "*" {
		return PhraseToken{Kind: Wildcard}, nil
	}
	kind, text := Literal, w
	if strings.HasSuffix(w, "*") {
		kind, text = Prefix, strings.TrimSuffix(w, "*")
		if len(text) < MinPrefix {
			return PhraseToken{}, fmt.Errorf("%q: a prefix needs at least %d characters before the *", w, MinPrefix)
		}
	}
	if text != strings.ToLower(text) {
		return PhraseToken{}, fmt.Errorf("%q: write tokens in lower case", w)
	}
	if toks := Tokens(text); len(toks) != 1 || toks[0] != text {
		return PhraseToken{}, fmt.Errorf("%q is not one text token (text would give %q); use letters, digits and spaces only, drop apostrophes", w, toks)
	}
	return PhraseToken{Kind: kind, Text: text}, nil
}

// distinctive reports whether t is a literal that ordinary prose would
// not supply: not a common word, and for a prefix, not the start of one.
func distinctive(t PhraseToken) bool {
	switch t.Kind {
	case Literal:
		return !IsCommonWord(t.Text)
	case Prefix:
		for w := range commonWords {
			if strings.HasPrefix(w, t.Text) {
				return false
			}
		}
		return true
	}
	return false
}

// IsCommonWord reports whether the lower-case token w is a word that any
// support message may contain: everyday English, and the vocabulary every
// ngrok ticket uses (ngrok, tunnel, agent, account, session, endpoint,
// error, limit, ...). A phrase made only of such words is refused.
func IsCommonWord(w string) bool { return commonWords[w] }

var commonWords = func() map[string]bool {
	m := map[string]bool{}
	for _, w := range strings.Fields(commonWordList) {
		m[w] = true
	}
	return m
}()

// commonWordList: everyday English words, then the words any ticket about
// ngrok uses. Written by hand; extend it when a phrase of only these
// words slips through.
const commonWordList = `
a about above after again against all already also always am an and another
any anything are around as ask asked at away back be because been before
being below between both but by can cannot cant could did didnt do does
doesnt doing done dont down during each either else even ever every
everything few find first for found from get gets getting give go going gone
got had has have having he her here him his how i if im in into is isnt it
its ive just keep know last later least less let like long look looks made
make many may me might more most much must my need needs never new next no
none nor not now of off often ok okay on once one only or other our out over
own please put really right said same say says see seems set should show
shows since so some something still such sure take than thank thanks that
the their them then there these they thing think this those through time to
today too try trying two under until up us use used using very want was way
we well were what when where which while who why will with without work
working works would wont yes yet you your youre
able access allow allowed available change check create created day days
different enable enabled expected fail failed fails failing help issue
issues local machine message open problem problems reason run running same
start started stop stopped support three trouble update updated valid
version while wrong
ngrok tunnel tunnels agent agents account accounts session sessions
endpoint endpoints error errors url urls http https tcp tls server servers
connection connections connect connected request requests limit limits
limited free plan plans paid user users dashboard domain domains app
port ports host localhost web website page site service api config
configuration file token team
`

// ParseSignatures reads signature rows "ERR_NGROK_<n>\t<phrase>", one per
// line; blank lines and lines starting with # are skipped. Every problem
// is reported at once, each as "name:line: what is wrong". The same
// phrase twice for one code is an error; for two codes it is allowed and
// means the wording is shared.
func ParseSignatures(name, data string) ([]Signature, error) {
	var out []Signature
	var errs []error
	seen := map[string]int{}
	for line, l := range dataLines(data) {
		bad := func(format string, args ...any) {
			errs = append(errs, fmt.Errorf("%s:%d: %s", name, line, fmt.Sprintf(format, args...)))
		}
		codeText, phrase, ok := strings.Cut(l, "\t")
		if !ok || strings.Contains(phrase, "\t") {
			bad("want 2 tab-separated fields (code, phrase)")
			continue
		}
		code, err := ParseCode(codeText)
		if err != nil {
			bad("%v", err)
			continue
		}
		p, err := ParsePhrase(phrase)
		if err != nil {
			bad("ERR_NGROK_%d: %v", code, err)
			continue
		}
		key := strconv.Itoa(code) + "\t" + phrase
		if prev, dup := seen[key]; dup {
			bad("ERR_NGROK_%d: phrase %q is already given at line %d", code, phrase, prev)
			continue
		}
		seen[key] = line
		out = append(out, Signature{Code: code, Phrase: phrase, Tokens: p, Source: name + ":" + strconv.Itoa(line)})
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return out, nil
}

// placeholder reports whether a raw word of an official message is a
// placeholder ngrok fills in at run time: letters, digits and underscores
// with at least two capital letters and no lower-case one (MAX, ACCOUNT,
// ENDPOINT_DOMAIN). Acronyms such as TCP read the same way; that costs
// nothing, since a wildcard matches the acronym too.
func placeholder(w string) bool {
	caps := 0
	for i := 0; i < len(w); i++ {
		switch b := w[i]; {
		case 'a' <= b && b <= 'z':
			return false
		case 'A' <= b && b <= 'Z':
			caps++
		}
	}
	return caps >= 2
}

// placeholderToken stands in for a placeholder while a message is
// tokenized; it cannot be a real token because it has a capital letter.
const placeholderToken = "\x00PLACEHOLDER"

// DeriveSignatures makes one phrase per official message (code →
// message, as stored by Sync): placeholders become *, then the first
// sentence is kept, at most MaxDerivedTokens tokens, without a leading or
// trailing *. A phrase is skipped when it has fewer than
// MinDerivedLiterals words besides *, has only common words, or is the
// same as another code's derived phrase (the wording settles nothing).
// The result is in code order.
func DeriveSignatures(messages map[int]string) []Signature {
	byPhrase := map[string][]Signature{}
	var order []string
	for _, code := range slices.Sorted(maps.Keys(messages)) {
		p, ok := derivePhrase(messages[code])
		if !ok {
			continue
		}
		s := p.String()
		if byPhrase[s] == nil {
			order = append(order, s)
		}
		byPhrase[s] = append(byPhrase[s], Signature{Code: code, Phrase: s, Tokens: p, Derived: true, Source: "official ERR_NGROK_" + strconv.Itoa(code)})
	}
	var out []Signature
	for _, s := range order {
		if sigs := byPhrase[s]; len(sigs) == 1 {
			out = append(out, sigs[0])
		}
	}
	slices.SortStableFunc(out, func(a, b Signature) int { return a.Code - b.Code })
	return out
}

func derivePhrase(msg string) (Phrase, bool) {
	msg = firstSentence(msg)
	// Put a marker token where each placeholder was, then tokenize.
	var b strings.Builder
	start := -1
	flush := func(end int) {
		if start < 0 {
			return
		}
		if w := msg[start:end]; placeholder(w) {
			b.WriteString(" " + placeholderToken + " ")
		} else {
			b.WriteString(w)
		}
		start = -1
	}
	for i := 0; i < len(msg); i++ {
		c := msg[i]
		if isLetter(c) || '0' <= c && c <= '9' || c == '_' {
			if start < 0 {
				start = i
			}
			continue
		}
		flush(i)
		b.WriteByte(c)
	}
	flush(len(msg))
	var toks []string
	for i, f := range strings.Split(b.String(), placeholderToken) {
		if i > 0 {
			toks = append(toks, "*")
		}
		toks = AppendTokens(toks, f)
	}
	toks = toks[:min(len(toks), MaxDerivedTokens)]
	// Collapse runs of *, trim * at both ends.
	toks = slices.CompactFunc(toks, func(a, b string) bool { return a == "*" && b == "*" })
	for len(toks) > 0 && toks[0] == "*" {
		toks = toks[1:]
	}
	for len(toks) > 0 && toks[len(toks)-1] == "*" {
		toks = toks[:len(toks)-1]
	}
	p, err := parsePhrase(strings.Join(toks, " "), MaxDerivedTokens, MinDerivedLiterals)
	return p, err == nil
}

// firstSentence cuts msg after the first '.', '!' or '?' that ends the
// text or comes before a space ("ngrok.com" does not end a sentence).
func firstSentence(msg string) string {
	for i := 0; i < len(msg); i++ {
		switch msg[i] {
		case '.', '!', '?':
			if i+1 == len(msg) || msg[i+1] == ' ' || msg[i+1] == '\n' {
				return msg[:i]
			}
		}
	}
	return msg
}
