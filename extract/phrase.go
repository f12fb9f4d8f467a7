package extract

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
)

// This file names an error from its wording alone. A customer often
// pastes the message without its code (older agents printed none,
// screenshots lose it, people paraphrase): "limited to 1 simultaneous
// ngrok client session", "Tunnel foo.ngrok.io not found". The catalog
// keeps short signature phrases per code; Phrases finds them all in one
// pass over the text's words.
//
// Words. ASCII letters are lower-cased; a word (token) is a maximal run
// of letters, digits or bytes >= 0x80; an apostrophe (' or ’) between
// two letters is dropped and the word goes on (you're → youre); curly
// quotes elsewhere and every other byte separate words. "Tunnel foo.ngrok.io not found." is
// [tunnel foo ngrok io not found].
//
// Phrases. Words separated by single spaces, in lower case. A literal
// word matches one word of the text exactly; "*" matches 1 to
// MaxWildcard words; a literal ending in "*" (session*) matches any word
// starting with it. Words match consecutively except at wildcards.

// MaxWildcard is how many words one "*" may stand for.
const MaxWildcard = 8

// MaxPhraseWords bounds a phrase's length in words.
const MaxPhraseWords = 24

// MaxWildcards bounds the wildcards of one phrase, so verifying a phrase
// at one anchor costs at most MaxWildcard^MaxWildcards steps.
const MaxWildcards = 3

// Phrases is a compiled set of signature phrases, searched in one pass:
// each phrase is anchored on one of its literal words (the longest), the
// text's words are looked up in a map of anchors, and only phrases whose
// anchor occurs are verified around it. A Phrases is immutable and safe
// for concurrent use.
type Phrases struct {
	phrases []phrase
	anchors map[string][]int32 // anchor word → indexes into phrases
	// bloom has a bit per anchor word's hash (wordHash), so most words
	// of a text are passed over without a map lookup.
	bloom [bloomBits / 64]uint64
	// before and after are the most words a phrase spans before and
	// after its anchor (a wildcard counts MaxWildcard).
	before, after int
	// prefixAnchors holds phrases whose every literal is a prefix
	// (session*): few, checked at every word.
	prefixAnchors []int32
}

type ptok struct {
	lit    string
	prefix bool // lit* : any word starting with lit
	wild   bool // *
}

type phrase struct {
	toks   []ptok
	anchor int // index in toks of the anchor literal
}

// ErrPhrase is wrapped by every error CompilePhrases returns.
var ErrPhrase = errors.New("bad signature phrase")

// ParsePhrase checks one phrase's syntax and returns its words.
func ParsePhrase(s string) ([]string, error) {
	if s == "" {
		return nil, fmt.Errorf("%w: empty", ErrPhrase)
	}
	words := strings.Split(s, " ")
	if len(words) > MaxPhraseWords {
		return nil, fmt.Errorf("%w %q: %d words, at most %d", ErrPhrase, s, len(words), MaxPhraseWords)
	}
	wild := 0
	for i, w := range words {
		switch {
		case w == "":
			return nil, fmt.Errorf("%w %q: words are separated by single spaces", ErrPhrase, s)
		case w == "*":
			if i == 0 || i == len(words)-1 {
				return nil, fmt.Errorf("%w %q: it must start and end with a word, not *", ErrPhrase, s)
			}
			if words[i-1] == "*" {
				return nil, fmt.Errorf("%w %q: two * in a row", ErrPhrase, s)
			}
			if wild++; wild > MaxWildcards {
				return nil, fmt.Errorf("%w %q: more than %d *", ErrPhrase, s, MaxWildcards)
			}
		default:
			lit := strings.TrimSuffix(w, "*")
			if len(lit) < len(w) && len(lit) < 3 {
				return nil, fmt.Errorf("%w %q: prefix %q is shorter than 3 letters", ErrPhrase, s, w)
			}
			var toks []string
			tokenize(lit, func(t string) { toks = append(toks, t) })
			if len(toks) != 1 || toks[0] != lit {
				return nil, fmt.Errorf("%w %q: %q is not one lower-case word (letters and digits)", ErrPhrase, s, w)
			}
		}
	}
	return words, nil
}

// CompilePhrases compiles phrases; a match's ID is the phrase's index.
// Every error is reported, joined.
func CompilePhrases(list []string) (*Phrases, error) {
	p := &Phrases{anchors: map[string][]int32{}}
	var errs []error
	for i, s := range list {
		words, err := ParsePhrase(s)
		if err != nil {
			errs = append(errs, err)
			p.phrases = append(p.phrases, phrase{})
			continue
		}
		ph := phrase{anchor: -1}
		for _, w := range words {
			switch {
			case w == "*":
				ph.toks = append(ph.toks, ptok{wild: true})
			case strings.HasSuffix(w, "*"):
				ph.toks = append(ph.toks, ptok{lit: strings.TrimSuffix(w, "*"), prefix: true})
			default:
				ph.toks = append(ph.toks, ptok{lit: w})
			}
		}
		for k, t := range ph.toks {
			if !t.wild && !t.prefix && (ph.anchor < 0 || anchorRank(t.lit) > anchorRank(ph.toks[ph.anchor].lit)) {
				ph.anchor = k
			}
		}
		p.phrases = append(p.phrases, ph)
		if ph.anchor < 0 {
			for k, t := range ph.toks {
				if t.prefix && (ph.anchor < 0 || len(t.lit) > len(ph.toks[ph.anchor].lit)) {
					ph.anchor = k
				}
			}
			p.phrases[i] = ph
			p.prefixAnchors = append(p.prefixAnchors, int32(i))
			continue
		}
		a := ph.toks[ph.anchor].lit
		p.anchors[a] = append(p.anchors[a], int32(i))
		h := wordHash([]byte(a))
		p.bloom[h%bloomBits/64] |= 1 << (h % 64)
		before, after := 0, 0
		for k, t := range ph.toks {
			w := 1
			if t.wild {
				w = MaxWildcard
			}
			if k < ph.anchor {
				before += w
			} else if k > ph.anchor {
				after += w
			}
		}
		p.before, p.after = max(p.before, before), max(p.after, after)
	}
	return p, errors.Join(errs...)
}

// bloomBits is the size of Phrases.bloom: 8 KiB, in the first-level cache.
const bloomBits = 1 << 16

// wordHash is FNV-1a over a folded word.
func wordHash(w []byte) uint32 {
	h := uint32(2166136261)
	for _, c := range w {
		h = (h ^ uint32(c)) * 16777619
	}
	return h
}

// commonWords are poor anchors: they occur in most texts.
var commonWords = map[string]bool{
	"the": true, "a": true, "an": true, "to": true, "of": true, "is": true, "not": true, "and": true, "or": true,
	"for": true, "your": true, "you": true, "this": true, "that": true, "be": true, "in": true, "on": true,
	"with": true, "are": true, "was": true, "it": true, "by": true, "at": true, "please": true, "found": true,
	"ngrok": true, "error": true, "failed": true, "account": true,
}

// anchorRank orders a phrase's literals by how rare they likely are.
func anchorRank(w string) int {
	if commonWords[w] {
		return len(w)
	}
	return 100 + len(w)
}

// Len returns the number of phrases, including ones that failed to
// compile (which never match).
func (p *Phrases) Len() int { return len(p.phrases) }

// PhraseMatch is one phrase found in text.
type PhraseMatch struct {
	// ID is the phrase's index in the list given to CompilePhrases.
	ID int
	// Start and End are the byte offsets of the matched words' span.
	Start, End int
}

// word is one token of the text: its span in the text and its folded
// form in the scratch buffer.
type word struct {
	start, end int // in the text
	f0, f1     int // in scratch
}

type phraseScratch struct {
	words []word
	fold  []byte
}

var phraseScratches = sync.Pool{New: func() any { return new(phraseScratch) }}

// Find calls fn for every phrase found in b, in order of the anchor's
// position; a phrase is reported at most once per anchor word. Work is
// linear in len(b) times a constant bounded by the phrases' wildcards.
//
// Most words are passed over with a hash and one bit test; only at an
// anchor word are the words around it (findWindow bytes each side) read
// and the anchor's phrases verified, so a phrase must lie within
// findWindow bytes of its anchor word.
func (p *Phrases) Find(b []byte, fn func(PhraseMatch)) {
	if p == nil || len(p.phrases) == 0 {
		return
	}
	if len(p.prefixAnchors) > 0 {
		p.findAll(b, fn) // phrases of prefixes only: every word is a candidate
		return
	}
	s := phraseScratches.Get().(*phraseScratch)
	defer phraseScratches.Put(s)
	s.words, s.fold = s.words[:0], s.fold[:0]
	ws0, ws1 := 0, -1 // the window s.words holds
	var fold [64]byte
	p.anchorWords(b, func(start, end int) {
		f := fold[:0]
		words(b[start:end], func(_, _ int, folded []byte) { f = append(f, folded...) })
		ids := p.anchors[string(f)]
		if len(ids) == 0 {
			return
		}
		i, ok := s.index(start)
		if !ok || start < ws0 || end > ws1 || i < p.before && ws0 > 0 || len(s.words)-1-i < p.after && ws1 < len(b) {
			ws0, ws1 = p.window(b, s, start, end)
			if i, ok = s.index(start); !ok {
				return
			}
		}
		text := func(k int) []byte { return s.fold[s.words[k].f0:s.words[k].f1] }
		for _, id := range ids {
			if m, ok := p.verify(int(id), s.words, text, i); ok {
				fn(m)
			}
		}
	})
}

// findWindow is how far (in bytes) around an anchor word Find reads words.
const findWindow = 2048

// window reads the words within findWindow bytes of b[start:end] into s
// and returns the span read.
func (p *Phrases) window(b []byte, s *phraseScratch, start, end int) (int, int) {
	w0, w1 := max(0, start-findWindow), min(len(b), end+findWindow)
	for w0 > 0 && w0 < start && wordClass[b[w0-1]] {
		w0++ // do not start inside a word
	}
	for w1 < len(b) && w1 > end && wordClass[b[w1]] {
		w1-- // nor end inside one
	}
	s.words, s.fold = s.words[:0], s.fold[:0]
	words(b[w0:w1], func(ws, we int, folded []byte) {
		f0 := len(s.fold)
		s.fold = append(s.fold, folded...)
		s.words = append(s.words, word{start: w0 + ws, end: w0 + we, f0: f0, f1: len(s.fold)})
	})
	return w0, w1
}

// index returns the index of the word starting at start in s.words.
func (s *phraseScratch) index(start int) (int, bool) {
	return slices.BinarySearchFunc(s.words, start, func(w word, t int) int { return w.start - t })
}

// anchorWords calls fn with the span of every word of b whose wordHash
// (as words would fold it) is in the bloom filter, copying nothing.
func (p *Phrases) anchorWords(b []byte, fn func(start, end int)) {
	for i := 0; i < len(b); {
		c := b[i]
		if !wordClass[c] || c == 0xE2 && i+2 < len(b) && b[i+1] == 0x80 && b[i+2] >= 0x98 && b[i+2] <= 0x9D {
			if c == 0xE2 && i+2 < len(b) && b[i+1] == 0x80 && b[i+2] >= 0x98 && b[i+2] <= 0x9D {
				i += 3
			} else {
				i++
			}
			continue
		}
		start := i
		h := uint32(2166136261)
		for i < len(b) {
			c := b[i]
			if wordClass[c] {
				if c == 0xE2 && i+2 < len(b) && b[i+1] == 0x80 && b[i+2] >= 0x98 && b[i+2] <= 0x9D {
					if apostropheAt(b, i) == 3 {
						i += 3
						continue
					}
					break
				}
				if c >= 'A' && c <= 'Z' {
					c += 'a' - 'A'
				}
				h = (h ^ uint32(c)) * 16777619
				i++
				continue
			}
			if n := apostropheAt(b, i); n > 0 {
				i += n
				continue
			}
			break
		}
		if p.bloom[h%bloomBits/64]&(1<<(h%64)) != 0 {
			fn(start, i)
		}
	}
}

// findAll is Find reading every word: the reference for tests, and the
// way for phrases anchored on a prefix.
func (p *Phrases) findAll(b []byte, fn func(PhraseMatch)) {
	s := phraseScratches.Get().(*phraseScratch)
	defer phraseScratches.Put(s)
	s.words, s.fold = s.words[:0], s.fold[:0]
	words(b, func(start, end int, folded []byte) {
		f0 := len(s.fold)
		s.fold = append(s.fold, folded...)
		s.words = append(s.words, word{start: start, end: end, f0: f0, f1: len(s.fold)})
	})
	ws := s.words
	text := func(i int) []byte { return s.fold[ws[i].f0:ws[i].f1] }
	for i := range ws {
		for _, id := range p.anchors[string(text(i))] {
			if m, ok := p.verify(int(id), ws, text, i); ok {
				fn(m)
			}
		}
		for _, id := range p.prefixAnchors {
			ph := &p.phrases[id]
			if !hasWordPrefix(text(i), ph.toks[ph.anchor].lit) {
				continue
			}
			if m, ok := p.verify(int(id), ws, text, i); ok {
				fn(m)
			}
		}
	}
}

func hasWordPrefix(w []byte, lit string) bool {
	return len(w) >= len(lit) && string(w[:len(lit)]) == lit
}

// verify checks phrase id with its anchor at word i.
func (p *Phrases) verify(id int, ws []word, text func(int) []byte, i int) (PhraseMatch, bool) {
	ph := &p.phrases[id]
	right, ok := matchFwd(ph.toks[ph.anchor+1:], text, len(ws), i+1)
	if !ok {
		return PhraseMatch{}, false
	}
	left, ok := matchBack(ph.toks[:ph.anchor], text, i-1)
	if !ok {
		return PhraseMatch{}, false
	}
	return PhraseMatch{ID: id, Start: ws[left].start, End: ws[right-1].end}, true
}

func tokMatches(t ptok, w []byte) bool {
	if t.prefix {
		return hasWordPrefix(w, t.lit)
	}
	return string(w) == t.lit
}

// matchFwd matches toks against words i, i+1, … and returns the index
// just past the last word matched (the shortest match).
func matchFwd(toks []ptok, text func(int) []byte, n, i int) (int, bool) {
	if len(toks) == 0 {
		return i, true
	}
	t := toks[0]
	if t.wild {
		for k := 1; k <= MaxWildcard && i+k <= n; k++ {
			if end, ok := matchFwd(toks[1:], text, n, i+k); ok {
				return end, true
			}
		}
		return 0, false
	}
	if i >= n || !tokMatches(t, text(i)) {
		return 0, false
	}
	return matchFwd(toks[1:], text, n, i+1)
}

// matchBack matches toks (in order) so that the last one is word i,
// going backwards, and returns the index of the first word matched.
func matchBack(toks []ptok, text func(int) []byte, i int) (int, bool) {
	if len(toks) == 0 {
		return i + 1, true
	}
	t := toks[len(toks)-1]
	if t.wild {
		for k := 1; k <= MaxWildcard && i-k+1 >= 0; k++ {
			if start, ok := matchBack(toks[:len(toks)-1], text, i-k); ok {
				return start, true
			}
		}
		return 0, false
	}
	if i < 0 || !tokMatches(t, text(i)) {
		return 0, false
	}
	return matchBack(toks[:len(toks)-1], text, i-1)
}

// wordClass marks the bytes that make up words.
var wordClass = func() (c [256]bool) {
	for i := range 256 {
		b := byte(i)
		c[i] = b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z' || b >= '0' && b <= '9' || b >= 0x80
	}
	return c
}()

// apostropheAt returns the length of an apostrophe (' or ’) at b[i] that
// sits between two ASCII letters, or 0.
func apostropheAt(b []byte, i int) int {
	n := 0
	switch {
	case b[i] == '\'':
		n = 1
	case b[i] == 0xE2 && i+2 < len(b) && b[i+1] == 0x80 && b[i+2] == 0x99:
		n = 3
	default:
		return 0
	}
	if i == 0 || i+n >= len(b) || !isLetter(b[i-1]) || !isLetter(b[i+n]) {
		return 0
	}
	return n
}

func isLetter(c byte) bool { c |= 0x20; return c >= 'a' && c <= 'z' }

// words calls fn for every word of b with its span and its folded form
// (valid only during the call).
func words(b []byte, fn func(start, end int, folded []byte)) {
	var buf [64]byte
	fold := buf[:0]
	for i := 0; i < len(b); {
		if b[i] == 0xE2 && i+2 < len(b) && b[i+1] == 0x80 && b[i+2] >= 0x98 && b[i+2] <= 0x9D {
			i += 3
			continue
		}
		if !wordClass[b[i]] {
			i++
			continue
		}
		start := i
		fold = fold[:0]
		for i < len(b) {
			c := b[i]
			if wordClass[c] {
				if c >= 'A' && c <= 'Z' {
					c += 'a' - 'A'
				}
				if c == 0xE2 && i+2 < len(b) && b[i+1] == 0x80 && b[i+2] >= 0x98 && b[i+2] <= 0x9D {
					// Curly quotes: an apostrophe inside a word, a
					// separator elsewhere (“Tunnel … found”).
					if apostropheAt(b, i) == 3 {
						i += 3
						continue
					}
					break
				}
				fold = append(fold, c)
				i++
				continue
			}
			if n := apostropheAt(b, i); n > 0 {
				i += n
				continue
			}
			break
		}
		fn(start, i, fold)
	}
}

// tokenize calls fn with each folded word of s: the reference form of
// the word rules, used to check phrases.
func tokenize(s string, fn func(string)) {
	words([]byte(s), func(_, _ int, f []byte) { fn(string(f)) })
}

// Words returns the folded words of s, as Phrases sees them.
func Words(s string) []string {
	var out []string
	tokenize(s, func(w string) { out = append(out, w) })
	return slices.Clip(out)
}
