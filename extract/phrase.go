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
// each phrase is anchored on one of its literal words (the rarest, see
// anchorCost), the text's long enough words are passed over with a hash
// of their first four letters and one bit test, and only phrases whose
// anchor occurs are verified around it. A Phrases is immutable and safe
// for concurrent use.
type Phrases struct {
	phrases []phrase
	anchors map[string]*anchorSet // anchor word → its phrases
	// slots maps slotKey (an anchor word's first four bytes and its
	// length) to 1 + the index in list of the first anchor with that
	// key, so most words of a text are passed over after one load.
	slots [1 << slotBits]uint16
	list  []anchorEntry
	// minAnchor and maxAnchor are the shortest and longest anchor words:
	// a word of another length is never looked up.
	minAnchor, maxAnchor int
	// slow holds phrases without a literal of minAnchorLen letters (only
	// prefixes, or short words): few, and when there are any the text is
	// read word by word (findAll).
	slow []int32
}

// anchorSet is the phrases anchored on one word, with the most words
// any of them spans before and after it (a wildcard counts MaxWildcard).
// anchorEntry is one anchor word in Phrases.list.
type anchorEntry struct {
	word string
	set  *anchorSet
	next int // 1 + index of the next anchor with the same slot key, or 0
}

type anchorSet struct {
	ids           []int32
	before, after int
	// next and prev are, when every phrase of the set has a literal
	// right after (before) the anchor, those literals: a word next to
	// the anchor that matches none of them rules the set out cheaply.
	next, prev []ptok
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

// maxLiteral bounds a literal's length; words longer than maxFold are
// folded to their first maxFold bytes, which no literal equals.
const (
	maxLiteral = 48
	maxFold    = maxLiteral + 1
)

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
			if len(lit) > maxLiteral {
				return nil, fmt.Errorf("%w %q: %q is longer than %d letters", ErrPhrase, s, w, maxLiteral)
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

// minAnchorLen is the shortest word Find anchors on: its first four
// bytes are hashed.
const minAnchorLen = 4

// CompilePhrases compiles phrases; a match's ID is the phrase's index.
// Every error is reported, joined.
func CompilePhrases(list []string) (*Phrases, error) {
	p := &Phrases{anchors: map[string]*anchorSet{}, minAnchor: maxLiteral}
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
			if !t.wild && !t.prefix && len(t.lit) >= minAnchorLen && (ph.anchor < 0 || anchorCost(t.lit) < anchorCost(ph.toks[ph.anchor].lit)) {
				ph.anchor = k
			}
		}
		if ph.anchor < 0 {
			// No literal to hash: anchor on the longest literal or
			// prefix, checked at every word.
			for k, t := range ph.toks {
				if !t.wild && (ph.anchor < 0 || len(t.lit) > len(ph.toks[ph.anchor].lit)) {
					ph.anchor = k
				}
			}
			p.phrases = append(p.phrases, ph)
			p.slow = append(p.slow, int32(i))
			continue
		}
		p.phrases = append(p.phrases, ph)
		a := ph.toks[ph.anchor].lit
		set := p.anchors[a]
		if set == nil {
			set = &anchorSet{}
			p.anchors[a] = set
			k := slotKey(le32(a), len(a))
			p.list = append(p.list, anchorEntry{word: a, set: set, next: int(p.slots[k])})
			p.slots[k] = uint16(len(p.list))
			p.minAnchor, p.maxAnchor = min(p.minAnchor, len(a)), max(p.maxAnchor, len(a))
		}
		set.ids = append(set.ids, int32(i))
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
		set.before, set.after = max(set.before, before), max(set.after, after)
	}
	for _, set := range p.anchors {
		var next, prev []ptok
		nextAll, prevAll := true, true
		for _, id := range set.ids {
			ph := &p.phrases[id]
			if k := ph.anchor + 1; k < len(ph.toks) && !ph.toks[k].wild {
				next = append(next, ph.toks[k])
			} else {
				nextAll = false
			}
			if k := ph.anchor - 1; k >= 0 && !ph.toks[k].wild {
				prev = append(prev, ph.toks[k])
			} else {
				prevAll = false
			}
		}
		if nextAll {
			set.next = next
		}
		if prevAll {
			set.prev = prev
		}
	}
	return p, errors.Join(errs...)
}

// slotBits sizes Phrases.slots: 8 KiB, in the first-level cache.
const slotBits = 12

// le32 reads a word's first four bytes, little-endian.
func le32[T string | []byte](w T) uint32 {
	return uint32(w[0]) | uint32(w[1])<<8 | uint32(w[2])<<16 | uint32(w[3])<<24
}

// slotKey hashes a word's first four bytes x (little-endian; each ORed
// with 0x20, which folds ASCII letters and leaves digits alone) and its
// length n to an index of Phrases.slots.
func slotKey(x uint32, n int) uint32 {
	return ((x|0x20202020)*0x9E3779B1 + uint32(n)*0x85EBCA77) >> (32 - slotBits)
}

// lookup returns the anchor set of the folded word f, or nil.
func (p *Phrases) lookup(f []byte) *anchorSet {
	if len(f) < minAnchorLen {
		return nil
	}
	for i := p.slots[slotKey(le32(f), len(f))]; i != 0; {
		e := &p.list[i-1]
		if e.word == string(f) {
			return e.set
		}
		i = uint16(e.next)
	}
	return nil
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
	w, s  [maskBlocks + 1]uint64
	// hits and specials are the anchor candidates of one stretch of
	// candidates.
	hits     [maskBlocks * maxBlockHits]int32
	specials []int
	// wfold, cfold and bfold hold one folded word each.
	wfold, cfold, bfold [maxFold]byte
}

var phraseScratches = sync.Pool{New: func() any { return new(phraseScratch) }}

// Find calls fn for every phrase found in b, in order of the anchor's
// position; a phrase is reported at most once per anchor word. Work is
// linear in len(b) times a constant bounded by the phrases' wildcards.
//
// Most words are passed over by their length and a hash of their first
// four letters (see candidates); only at an anchor word are the words
// around it read, no further than findWindow bytes each side, so a
// phrase must lie within findWindow bytes of its anchor word.
func (p *Phrases) Find(b []byte, fn func(PhraseMatch)) {
	if p == nil || len(p.phrases) == 0 {
		return
	}
	if len(p.slow) > 0 {
		p.findAll(b, fn)
		return
	}
	if len(p.anchors) == 0 {
		return
	}
	s := phraseScratches.Get().(*phraseScratch)
	defer phraseScratches.Put(s)
	p.candidates(b, s, func(start, end int, folded []byte, set *anchorSet) {
		if p.ruledOut(b, s, start, end, set) {
			return
		}
		i := p.around(b, s, start, end, folded, set)
		text := func(k int) []byte { return s.fold[s.words[k].f0:s.words[k].f1] }
		for _, id := range set.ids {
			if m, ok := p.verify(int(id), s.words, text, i); ok {
				fn(m)
			}
		}
	})
}

// ruledOut reports whether the word right after or right before the
// anchor word b[start:end] matches none of the literals its phrases
// need there: most anchors in a busy log are ruled out so, without
// reading the words around them.
func (p *Phrases) ruledOut(b []byte, s *phraseScratch, start, end int, set *anchorSet) bool {
	if set.next != nil {
		lim := safeEnd(b, min(len(b), end+findWindow), end)
		f, ok := plainWordAfter(b, end, lim, s.wfold[:0])
		if !ok { // not a plain run: the word rules read it
			eachWord(b[:lim], end, s.wfold[:0], func(_, _ int, w []byte) bool {
				f = w
				return false
			})
		}
		if f == nil || !anyMatches(set.next, f) {
			return true
		}
	}
	if set.prev != nil {
		if f, ok := plainWordBefore(b, start, s.wfold[:0]); ok {
			return !anyMatches(set.prev, f)
		}
	}
	return false
}

func anyMatches(toks []ptok, w []byte) bool {
	for _, t := range toks {
		if tokMatches(t, w) {
			return true
		}
	}
	return false
}

// plainWordAfter returns, folded, the first word at or after end and
// before lim when it is a plain run (letters and digits only, so one
// word of the word rules), or nil when there is no word; ok is false
// when the next run is not plain.
func plainWordAfter(b []byte, end, lim int, fold []byte) ([]byte, bool) {
	e := end
	for e < lim && !runClass[b[e]] {
		e++
	}
	if e == lim {
		return nil, true
	}
	s := e
	for e < lim && runClass[b[e]] {
		if b[e] >= 0x80 || b[e] == '\'' {
			return nil, false
		}
		e++
	}
	for _, c := range b[s:min(e, s+maxFold)] {
		if c >= 'A' && c <= 'Z' {
			c += 'a' - 'A'
		}
		fold = append(fold, c)
	}
	return fold, true
}

// plainWordBefore returns, folded, the word that ends closest before
// start within findWindow bytes when it is a plain run (letters and
// digits only, so one word of the word rules); ok is false when there
// is none or it is not plain.
func plainWordBefore(b []byte, start int, fold []byte) ([]byte, bool) {
	lo := max(0, start-findWindow)
	e := start
	for e > lo && !runClass[b[e-1]] {
		if b[e-1] == 0x80 || b[e-1] >= 0x98 && b[e-1] <= 0x9D {
			return nil, false // maybe a curly quote's tail
		}
		e--
	}
	s := e
	for s > lo && runClass[b[s-1]] {
		if b[s-1] >= 0x80 || b[s-1] == '\'' {
			return nil, false
		}
		s--
	}
	if s == e || s == lo && lo > 0 {
		return nil, false
	}
	for _, c := range b[s:min(e, s+maxFold)] {
		if c >= 'A' && c <= 'Z' {
			c += 'a' - 'A'
		}
		fold = append(fold, c)
	}
	return fold, true
}

// findWindow is how far (in bytes) around an anchor word Find reads words.
const findWindow = 2048

// around reads into s the words before the anchor word b[start:end] (up
// to set.before of them, within findWindow bytes), the anchor, and the
// words after it (up to set.after, within findWindow bytes), and returns
// the anchor's index in s.words.
func (p *Phrases) around(b []byte, s *phraseScratch, start, end int, folded []byte, set *anchorSet) int {
	s.words, s.fold = s.words[:0], s.fold[:0]
	add := func(off, ws, we int, f []byte) {
		f0 := len(s.fold)
		s.fold = append(s.fold, f...)
		s.words = append(s.words, word{start: off + ws, end: off + we, f0: f0, f1: len(s.fold)})
	}
	if set.before > 0 {
		// Most phrases need a few words: read a short stretch first,
		// the whole window only when it holds too few.
		for _, back := range [2]int{min(findWindow, 32*set.before+64), findWindow} {
			w0 := safeStart(b, max(0, start-back), start)
			s.words, s.fold = s.words[:0], s.fold[:0]
			eachWord(b[w0:start], 0, s.bfold[:0], func(ws, we int, f []byte) bool { add(w0, ws, we, f); return true })
			if len(s.words) >= set.before || start-back <= 0 || back == findWindow {
				break
			}
		}
		if k := len(s.words) - set.before; k > 0 {
			drop := s.words[k].f0
			s.words = slices.Delete(s.words, 0, k)
			for j := range s.words {
				s.words[j].f0 -= drop
				s.words[j].f1 -= drop
			}
			s.fold = slices.Delete(s.fold, 0, drop)
		}
	}
	i := len(s.words)
	add(0, start, end, folded)
	if set.after > 0 {
		w1 := safeEnd(b, min(len(b), end+findWindow), end)
		n := 0
		eachWord(b[:w1], end, s.wfold[:0], func(ws, we int, f []byte) bool {
			add(0, ws, we, f)
			n++
			return n < set.after
		})
	}
	return i
}

// safeStart moves w0 forward (not past limit) until it starts no word
// midway: the byte before it separates words.
func safeStart(b []byte, w0, limit int) int {
	for w0 > 0 && w0 < limit && (wordClass[b[w0-1]] || b[w0-1] == '\'') {
		w0++
	}
	return w0
}

// safeEnd moves w1 back (not before limit) until it ends no word midway.
func safeEnd(b []byte, w1, limit int) int {
	for w1 < len(b) && w1 > limit && (wordClass[b[w1]] || b[w1] == '\'') {
		w1--
	}
	return w1
}

// findAll is Find reading every word: the reference for tests, and the
// way when some phrase has no literal to hash.
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
		if set := p.anchors[string(text(i))]; set != nil {
			for _, id := range set.ids {
				if m, ok := p.verify(int(id), ws, text, i); ok {
					fn(m)
				}
			}
		}
		for _, id := range p.slow {
			ph := &p.phrases[id]
			if !tokMatches(ph.toks[ph.anchor], text(i)) {
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
// (valid only during the call; a word longer than maxFold bytes is
// folded to its first maxFold).
func words(b []byte, fn func(start, end int, folded []byte)) {
	eachWord(b, 0, make([]byte, 0, maxFold), func(start, end int, folded []byte) bool {
		fn(start, end, folded)
		return true
	})
}

// eachWord is words from offset i of b, stopping when fn returns false.
// i must not lie inside a word; buf (of capacity maxFold) holds the
// folded word.
func eachWord(b []byte, i int, buf []byte, fn func(start, end int, folded []byte) bool) {
	for i < len(b) {
		if b[i] == 0xE2 && i+2 < len(b) && b[i+1] == 0x80 && b[i+2] >= 0x98 && b[i+2] <= 0x9D {
			i += 3
			continue
		}
		if !wordClass[b[i]] {
			i++
			continue
		}
		start := i
		fold := buf[:0]
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
				if len(fold) < maxFold {
					fold = append(fold, c)
				}
				i++
				continue
			}
			if n := apostropheAt(b, i); n > 0 {
				i += n
				continue
			}
			break
		}
		if !fn(start, i, fold) {
			return
		}
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
