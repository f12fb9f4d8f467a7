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
	// present has bit slotHash >> (32-presenceBits) set for each anchor:
	// the search passes over a word after testing one bit of it, and
	// its 16 KiB stay in the first-level cache. Its bits refine slots'
	// keys, so a set bit means the slot holds an anchor.
	present [1 << presenceBits / 64]uint64
	list    []anchorEntry
	// minAnchor and maxAnchor are the shortest and longest anchor words:
	// a word of another length is never looked up.
	minAnchor, maxAnchor int
	// asciiAnchors is true when every anchor word is ASCII: a run with a
	// byte >= 0x80 that the word rules do not split is then no anchor.
	asciiAnchors bool
	// slow holds phrases without a literal of minAnchorLen letters (only
	// prefixes, or short words): few, and when there are any the text is
	// read word by word (findAll).
	slow []int32
}

// anchorEntry is one anchor word in Phrases.list.
type anchorEntry struct {
	word string
	set  *anchorSet
	next int // 1 + index of the next anchor with the same slot key, or 0
}

// anchorSet is the phrases anchored on one word.
type anchorSet struct {
	ids []int32
}

type ptok struct {
	lit    string
	prefix bool // lit* : any word starting with lit
	wild   bool // *
}

type phrase struct {
	toks   []ptok
	anchor int // index in toks of the anchor literal
	// probes are the nearest literal after the anchor and the nearest
	// before it, read straight from the text's bytes (see probe).
	probes [2]probe
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
	p := &Phrases{}
	var errs []error
	for _, s := range list {
		words, err := ParsePhrase(s)
		if err != nil {
			errs = append(errs, err)
			p.phrases = append(p.phrases, phrase{}) // never matches
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
		p.phrases = append(p.phrases, ph)
	}
	p.index(anchorCost)
	return p, errors.Join(errs...)
}

// index anchors each phrase on its literal of minAnchorLen letters or
// more that cost ranks first (given whether it has no literal
// neighbour), and builds the anchor table. A word already anchoring many
// phrases costs more (sharePenalty each): every occurrence of an anchor
// verifies all its phrases, and ngrok's messages share words
// ("provider" is in 156 of them).
func (p *Phrases) index(cost func(w string, lonely bool) int) {
	p.anchors, p.slots, p.present, p.list, p.slow = map[string]*anchorSet{}, [1 << slotBits]uint16{}, [1 << presenceBits / 64]uint64{}, nil, nil
	p.minAnchor, p.maxAnchor, p.asciiAnchors = maxLiteral, 0, true
	for i := range p.phrases {
		ph := &p.phrases[i]
		if len(ph.toks) == 0 {
			continue
		}
		lonely := func(k int) bool {
			return (k == 0 || ph.toks[k-1].wild) && (k == len(ph.toks)-1 || ph.toks[k+1].wild)
		}
		ph.anchor = -1
		best := 0
		for k, t := range ph.toks {
			if t.wild || t.prefix || len(t.lit) < minAnchorLen {
				continue
			}
			c := cost(t.lit, lonely(k))
			if set := p.anchors[t.lit]; set != nil && len(set.ids) >= shareFree {
				c += sharePenalty * (len(set.ids) - shareFree + 1)
			}
			if ph.anchor < 0 || c < best {
				ph.anchor, best = k, c
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
			p.slow = append(p.slow, int32(i))
			continue
		}
		set := p.addAnchor(ph.toks[ph.anchor].lit)
		if set == nil {
			p.slow = append(p.slow, int32(i)) // the table is full
			continue
		}
		set.ids = append(set.ids, int32(i))
		ph.probes = [2]probe{probeFor(ph.toks, ph.anchor, 1), probeFor(ph.toks, ph.anchor, -1)}
	}
}

// A word that already anchors shareFree phrases or more costs
// sharePenalty more as an anchor for each one beyond: 25 weigh as much as
// one frequency tier.
const (
	shareFree    = 8
	sharePenalty = 40
)

// addAnchor returns the set of anchor word a, adding it to the table,
// or nil when the table is full (maxAnchors words).
func (p *Phrases) addAnchor(a string) *anchorSet {
	set := p.anchors[a]
	if set == nil {
		if len(p.list) >= maxAnchors {
			return nil
		}
		set = &anchorSet{}
		p.anchors[a] = set
		h := slotHash(le32(a), len(a))
		k := h >> (32 - slotBits)
		p.list = append(p.list, anchorEntry{word: a, set: set, next: int(p.slots[k])})
		p.slots[k] = uint16(len(p.list))
		b := h >> (32 - presenceBits)
		p.present[b/64] |= 1 << (b % 64)
		p.minAnchor, p.maxAnchor = min(p.minAnchor, len(a)), max(p.maxAnchor, len(a))
		for _, c := range []byte(a) {
			if c >= 0x80 {
				p.asciiAnchors = false
			}
		}
	}
	return set
}

// Retune returns a copy of p whose phrases are anchored on the literal
// that occurs least often in sample (the start of the text to search),
// the static ranking breaking ties: a log that repeats "connection
// refused" on every line anchors "the server refused our connection"
// elsewhere. Matches are the same, bar phrases wider than findWindow. It
// returns p itself when sample is empty or some phrase has no word to
// hash.
func (p *Phrases) Retune(sample []byte) *Phrases {
	if p == nil || len(p.slow) > 0 || len(sample) == 0 || len(p.anchors) == 0 {
		return p
	}
	// Count every literal that could be an anchor, with the same search.
	counter := &Phrases{anchors: map[string]*anchorSet{}, minAnchor: maxLiteral}
	for _, ph := range p.phrases {
		for _, t := range ph.toks {
			if !t.wild && !t.prefix && len(t.lit) >= minAnchorLen && counter.addAnchor(t.lit) == nil {
				return p
			}
		}
	}
	counts := make(map[*anchorSet]int, len(counter.list))
	s := phraseScratches.Get().(*phraseScratch)
	counter.candidates(sample, s, func(_, _ int, _ []byte, set *anchorSet) { counts[set]++ })
	phraseScratches.Put(s)
	q := &Phrases{phrases: slices.Clone(p.phrases)}
	q.index(func(w string, lonely bool) int {
		return counts[counter.anchors[w]]<<16 + anchorCost(w, lonely)
	})
	return q
}

// maxAnchors bounds the anchor words of a Phrases: Phrases.slots holds
// 16-bit indexes.
const maxAnchors = 1<<16 - 1

// slotBits sizes Phrases.slots: 32 KiB, so that the 700 anchors of a
// synced catalog fill few of its slots (12 bits: 0.18 s for the
// benchmark scan, 14: 0.16 s).
const slotBits = 14

// le32 reads a word's first four bytes, little-endian.
func le32[T string | []byte](w T) uint32 {
	return uint32(w[0]) | uint32(w[1])<<8 | uint32(w[2])<<16 | uint32(w[3])<<24
}

// slotKey hashes a word's first four bytes x (little-endian; each ORed
// with 0x20, which folds ASCII letters and leaves digits alone) and its
// length n to an index of Phrases.slots.
func slotKey(x uint32, n int) uint32 { return slotHash(x, n) >> (32 - slotBits) }

// slotHash is the hash whose top bits are slotKey and the bit of
// Phrases.present.
func slotHash(x uint32, n int) uint32 {
	return (x|0x20202020)*0x9E3779B1 + uint32(n)*0x85EBCA77
}

// presenceBits sizes Phrases.present: 2^17 bits, so that a synced
// catalog's 480 anchors set 0.4% of them (a word's slot is taken 3% of
// the time): fewer words than one in 250 are compared for nothing.
const presenceBits = 17

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
	// cfold holds one folded word.
	cfold [maxFold]byte
	// lazy reads the words around one anchor; match verifies phrases.
	lazy  lazyWords
	match matcher
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
		ready := false
		for _, id := range set.ids {
			if p.probedOut(id, b, start, end) {
				continue
			}
			if !ready {
				s.lazy.reset(b, start, end, folded)
				s.match.src = &s.lazy
				ready = true
			}
			if p.excluded(id, &s.lazy) {
				continue
			}
			if m, ok := p.verify(int(id), &s.match); ok {
				fn(m)
			}
		}
	})
}

// excluded reports whether phrase id is ruled out by the word right
// after or right before its anchor: a literal there that the word does
// not match, or no word at all. Most anchors in a busy log, and most
// phrases of an anchor that many share, are ruled out so at a glance,
// after reading one word (l reads no more until asked).
func (p *Phrases) excluded(id int32, l *lazyWords) bool {
	ph := &p.phrases[id]
	for _, k := range [2]int{1, -1} {
		if i := ph.anchor + k; i >= 0 && i < len(ph.toks) && !ph.toks[i].wild {
			if _, f, ok := l.at(k); !ok || !tokMatches(ph.toks[i], f) {
				return true
			}
		}
	}
	return false
}

// probe is a phrase's nearest literal on one side of its anchor: tok,
// which must be one of the words dir*lo … dir*hi from the anchor (more
// than one when wildcards stand between). n is 0 when that side has no
// literal.
type probe struct {
	tok    ptok
	lo, hi int
	dir    int
}

func probeFor(toks []ptok, anchor, dir int) probe {
	wild := 0
	for k := anchor + dir; k >= 0 && k < len(toks); k += dir {
		if toks[k].wild {
			wild++
			continue
		}
		return probe{tok: toks[k], lo: 1 + wild, hi: 1 + wild*MaxWildcard, dir: dir}
	}
	return probe{}
}

// probedOut reports whether phrase id cannot match at the anchor word
// b[start:end] because the nearest literal on one of its sides is none
// of the words where it would have to be. It reads those words straight
// from b, and only while they are plain runs of ASCII letters and digits
// inside the anchor's window, where the word rules are that simple; at
// anything else it says false and leaves the phrase to excluded and
// verify. A busy log repeats an anchor word on every line ("version"
// with "ngrok version 3.18.4, Go 1.23, os linux"): most of its phrases
// end here, without the word list being built.
func (p *Phrases) probedOut(id int32, b []byte, start, end int) bool {
	ph := &p.phrases[id]
	lo, hi := max(0, start-findWindow), min(len(b), end+findWindow)
	for _, pr := range ph.probes {
		if pr.dir == 0 {
			continue
		}
		at := end
		if pr.dir < 0 {
			at = start
		}
		out := true
		for k := 1; k <= pr.hi; k++ {
			var ws, we int
			var ok bool
			if pr.dir > 0 {
				ws, we, ok = plainWordFwd(b, at, lo, hi)
				at = we
			} else {
				ws, we, ok = plainWordBack(b, at, lo, hi)
				at = ws
			}
			if !ok {
				out = false // not sure: let the word lists decide
				break
			}
			if k >= pr.lo && rawTokMatches(pr.tok, b[ws:we]) {
				out = false
				break
			}
		}
		if out {
			return true
		}
	}
	return false
}

// plainWordFwd returns the word after offset i of b when it is a plain
// run of ASCII letters and digits that ends before hi (where the word
// rules read it as one word, bytes as they are); ok is false otherwise.
func plainWordFwd(b []byte, i, lo, hi int) (ws, we int, ok bool) {
	for i < hi && !runClass[b[i]] {
		i++
	}
	ws = i
	for i < hi && plainClass[b[i]] {
		i++
	}
	if i == ws || i >= hi || runClass[b[i]] {
		return 0, 0, false
	}
	return ws, i, true
}

// plainWordBack is plainWordFwd for the word before offset i: the run
// must start after lo.
func plainWordBack(b []byte, i, lo, hi int) (ws, we int, ok bool) {
	for i > lo && !runClass[b[i-1]] {
		i--
	}
	we = i
	for i > lo && plainClass[b[i-1]] {
		i--
	}
	if i == we || i <= lo || runClass[b[i-1]] {
		return 0, 0, false
	}
	return i, we, true
}

// plainClass marks ASCII letters and digits.
var plainClass = func() (c [256]bool) {
	for i := range 256 {
		c[i] = runClass[i] && i < 0x80 && i != '\''
	}
	return c
}()

// rawTokMatches is tokMatches for a plain run as written: ASCII letters
// compare without case, and a run longer than maxFold bytes is its first
// maxFold, as the word rules fold it.
func rawTokMatches(t ptok, w []byte) bool {
	w = w[:min(len(w), maxFold)]
	if len(w) < len(t.lit) || !t.prefix && len(w) != len(t.lit) {
		return false
	}
	for i := range len(t.lit) {
		c := w[i]
		if c >= 'A' && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != t.lit[i] {
			return false
		}
	}
	return true
}

// findWindow is how far (in bytes) around an anchor word Find reads words.
const findWindow = 2048

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
	src := &sliceWords{words: s.words, fold: s.fold}
	s.match.src = src
	for i := range s.words {
		src.i = i
		if set := p.anchors[string(src.text(i))]; set != nil {
			for _, id := range set.ids {
				if m, ok := p.verify(int(id), &s.match); ok {
					fn(m)
				}
			}
		}
		for _, id := range p.slow {
			ph := &p.phrases[id]
			if !tokMatches(ph.toks[ph.anchor], src.text(i)) {
				continue
			}
			if m, ok := p.verify(int(id), &s.match); ok {
				fn(m)
			}
		}
	}
}

func hasWordPrefix(w []byte, lit string) bool {
	return len(w) >= len(lit) && string(w[:len(lit)]) == lit
}

// wordSource gives the words around an anchor word by their place: 0
// is the anchor, -1 the word before it, 1 the word after it.
type wordSource interface {
	// at returns word k and its folded form; ok is false when there is
	// no such word (in the window read).
	at(k int) (w word, folded []byte, ok bool)
}

// verify checks phrase id with its anchor at word 0 of m's source.
func (p *Phrases) verify(id int, m *matcher) (PhraseMatch, bool) {
	ph := &p.phrases[id]
	if m.gen++; m.gen == 0 {
		m.failed = [MaxPhraseWords + 1][2*maxSpan + 3]uint32{}
		m.gen = 1
	}
	right, ok := m.fwd(ph.toks[ph.anchor+1:], 1)
	if !ok {
		return PhraseMatch{}, false
	}
	left, ok := m.back(ph.toks[:ph.anchor], -1)
	if !ok {
		return PhraseMatch{}, false
	}
	l, _, _ := m.src.at(left)
	r, _, _ := m.src.at(right - 1)
	return PhraseMatch{ID: id, Start: l.start, End: r.end}, true
}

// maxSpan is the most words a phrase spans on one side of its anchor.
const maxSpan = MaxPhraseWords * MaxWildcard

// matcher matches a phrase's words around an anchor. failed remembers,
// for the phrase being verified (gen), the places where the rest of its
// words (by how many are left) is known not to match, so wildcards never
// try the same rest twice: a verification costs at most a phrase's
// words times the words it can span, not MaxWildcard to the power of its
// wildcards.
type matcher struct {
	src    wordSource
	gen    uint32
	failed [MaxPhraseWords + 1][2*maxSpan + 3]uint32
}

func (m *matcher) seen(left, i int) bool { return m.failed[left][i+maxSpan+1] == m.gen }
func (m *matcher) fail(left, i int)      { m.failed[left][i+maxSpan+1] = m.gen }

func tokMatches(t ptok, w []byte) bool {
	if t.prefix {
		return hasWordPrefix(w, t.lit)
	}
	return string(w) == t.lit
}

// fwd matches toks against words i, i+1, … and returns the place just
// past the last word matched (the shortest match).
func (m *matcher) fwd(toks []ptok, i int) (int, bool) {
	if len(toks) == 0 {
		return i, true
	}
	if m.seen(len(toks), i) {
		return 0, false
	}
	t := toks[0]
	if t.wild {
		for k := 1; k <= MaxWildcard; k++ {
			if _, _, ok := m.src.at(i + k - 1); !ok {
				break
			}
			if end, ok := m.fwd(toks[1:], i+k); ok {
				return end, true
			}
		}
	} else if _, f, ok := m.src.at(i); ok && tokMatches(t, f) {
		if end, ok := m.fwd(toks[1:], i+1); ok {
			return end, true
		}
	}
	m.fail(len(toks), i)
	return 0, false
}

// back matches toks (in order) so that the last one is word i, going
// backwards, and returns the place of the first word matched.
func (m *matcher) back(toks []ptok, i int) (int, bool) {
	if len(toks) == 0 {
		return i + 1, true
	}
	if m.seen(len(toks), i) {
		return 0, false
	}
	t := toks[len(toks)-1]
	if t.wild {
		for k := 1; k <= MaxWildcard; k++ {
			if _, _, ok := m.src.at(i - k + 1); !ok {
				break
			}
			if start, ok := m.back(toks[:len(toks)-1], i-k); ok {
				return start, true
			}
		}
	} else if _, f, ok := m.src.at(i); ok && tokMatches(t, f) {
		if start, ok := m.back(toks[:len(toks)-1], i-1); ok {
			return start, true
		}
	}
	m.fail(len(toks), i)
	return 0, false
}

// sliceWords is a wordSource over words already read, the anchor at i.
type sliceWords struct {
	words []word
	fold  []byte
	i     int
}

func (s *sliceWords) text(k int) []byte { return s.fold[s.words[k].f0:s.words[k].f1] }

func (s *sliceWords) at(k int) (word, []byte, bool) {
	j := s.i + k
	if j < 0 || j >= len(s.words) {
		return word{}, nil, false
	}
	return s.words[j], s.text(j), true
}

// lazyWords is a wordSource that reads the words around an anchor word
// only as a phrase's verification asks for them, no further than
// findWindow bytes from the anchor: most phrases are ruled out after a
// word or two.
type lazyWords struct {
	b                 []byte
	start, end        int    // the anchor word
	lo, hi            int    // the window: whole words in b[lo:hi]
	fwd, back         []word // fwd[0] is the anchor; back[0] the word before it
	fold              []byte
	fwdAt, backAt     int // where reading goes on forward; the start of the earliest word read
	fwdDone, backDone bool
	buf               [maxFold]byte
	tmp               []word
}

func (l *lazyWords) reset(b []byte, start, end int, folded []byte) {
	l.b, l.start, l.end = b, start, end
	// The window's raw bounds: a word cut by one is not in the window.
	// (Moving them off a word here would cost up to findWindow bytes at
	// every anchor of a text built to make it so.)
	l.lo, l.hi = max(0, start-findWindow), min(len(b), end+findWindow)
	l.fold = append(l.fold[:0], folded...)
	l.fwd = append(l.fwd[:0], word{start: start, end: end, f0: 0, f1: len(folded)})
	l.back = l.back[:0]
	l.fwdAt, l.backAt = end, start
	l.fwdDone, l.backDone = false, false
}

func (l *lazyWords) add(list []word, start, end int, f []byte) []word {
	f0 := len(l.fold)
	l.fold = append(l.fold, f...)
	return append(list, word{start: start, end: end, f0: f0, f1: len(l.fold)})
}

func (l *lazyWords) at(k int) (word, []byte, bool) {
	var w word
	if k >= 0 {
		for len(l.fwd) <= k && !l.fwdDone {
			l.readFwd()
		}
		if k >= len(l.fwd) {
			return word{}, nil, false
		}
		w = l.fwd[k]
	} else {
		j := -k - 1
		for len(l.back) <= j && !l.backDone {
			l.readBack()
		}
		if j >= len(l.back) {
			return word{}, nil, false
		}
		w = l.back[j]
	}
	return w, l.fold[w.f0:w.f1], true
}

// readFwd reads the next word after the last one read.
func (l *lazyWords) readFwd() {
	b, e := l.b, l.fwdAt
	for e < l.hi && !runClass[b[e]] {
		e++
	}
	if e >= l.hi {
		l.fwdDone = true
		return
	}
	s := e
	for e < l.hi && runClass[b[e]] && b[e] < 0x80 && b[e] != '\'' {
		e++
	}
	if e == l.hi && e < len(b) && runClass[b[e]] {
		l.fwdDone = true // the window's edge cuts the run
		return
	}
	if e == l.hi || !runClass[b[e]] {
		// A plain run: one word.
		l.fwd = l.add(l.fwd, s, e, foldASCII(l.buf[:0], b[s:e]))
		l.fwdAt = e
		return
	}
	found := false
	eachWord(b[:safeEnd(b, l.hi, l.end)], l.fwdAt, l.buf[:0], func(ws, we int, f []byte) bool {
		l.fwd = l.add(l.fwd, ws, we, f)
		l.fwdAt, found = we, true
		return false
	})
	l.fwdDone = !found
}

// readBack reads the word, or the words of a stretch, before the
// earliest one read.
func (l *lazyWords) readBack() {
	b, x := l.b, l.backAt
	e := x
	for e > l.lo && !runClass[b[e-1]] {
		e--
	}
	if e <= l.lo {
		l.backDone = true
		return
	}
	s := e
	for s > l.lo && runClass[b[s-1]] && b[s-1] < 0x80 && b[s-1] != '\'' {
		s--
	}
	if s == l.lo && s > 0 && runClass[b[s-1]] {
		l.backDone = true // the window's edge cuts the run
		return
	}
	if s == l.lo || !runClass[b[s-1]] {
		// A plain run: one word.
		l.back = l.add(l.back, s, e, foldASCII(l.buf[:0], b[s:e]))
		l.backAt = s
		return
	}
	// The word rules split what stands before x: read a stretch from a
	// place that starts no word midway.
	for step := 256; ; step *= 4 {
		from := max(l.lo, x-step)
		x0 := safeStart(b, from, x)
		if x0 == x && from > l.lo {
			continue // inside one long run: start further back
		}
		l.tmp = l.tmp[:0]
		eachWord(b[x0:x], 0, l.buf[:0], func(ws, we int, f []byte) bool {
			l.tmp = l.add(l.tmp, x0+ws, x0+we, f)
			return true
		})
		for i := len(l.tmp) - 1; i >= 0; i-- {
			l.back = append(l.back, l.tmp[i])
		}
		l.backAt = x0
		l.backDone = from == l.lo
		return
	}
}

// foldASCII appends b, ASCII letters lower-cased, to dst, at most
// maxFold bytes of it.
func foldASCII(dst, b []byte) []byte {
	for _, c := range b[:min(len(b), maxFold)] {
		if c >= 'A' && c <= 'Z' {
			c += 'a' - 'A'
		}
		dst = append(dst, c)
	}
	return dst
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

// ReadsEveryWord reports whether Find reads every word of a text: when
// some phrase has no literal of at least four letters to anchor on.
// The signatures a catalog compiles never do (a test checks, with the
// phrases derived from ngrok's messages too).
func (p *Phrases) ReadsEveryWord() bool { return len(p.slow) > 0 }
