package normalize

import (
	"fmt"
	"io"
	"mime"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/emersion/go-message/charset"
	"golang.org/x/text/encoding"
	"golang.org/x/text/encoding/charmap"
	"golang.org/x/text/encoding/japanese"
	"golang.org/x/text/encoding/korean"
	"golang.org/x/text/encoding/simplifiedchinese"
	"golang.org/x/text/transform"
)

// charsetAliases maps misspelt charset labels seen in real mail to the
// label meant. Reading by one of them is a guess and is noted.
var charsetAliases = map[string]string{
	"iso-gb2312": "gb2312",
	"gb2312-80":  "gb2312",
	"x-gb2312":   "gb2312",
	"gb_2312":    "gb2312",
	"cp-1252":    "windows-1252",
	"win-1252":   "windows-1252",
	"latin-1":    "windows-1252",
	"iso8859-1":  "windows-1252",
	"ks_c_5601":  "euc-kr",
	"x-euc-kr":   "euc-kr",
	"sjis":       "shift_jis",
	"x-sjis":     "shift_jis",
}

// cleanCharset returns the charset label meant by a Content-Type's
// charset parameter, lower-cased, and whether that took a guess: a label
// with something glued on ("iso-8859-1content-transfer-encoding:", where a
// line break was lost) or a known misspelling.
func cleanCharset(raw string) (label string, guessed bool) {
	cs := strings.ToLower(strings.Trim(raw, " \t\"'"))
	if i := strings.Index(cs, "content-transfer-encoding"); i > 0 {
		cs, guessed = strings.Trim(cs[:i], " \t\"';"), true
	}
	if i := strings.IndexAny(cs, " \t;\"'"); i > 0 {
		cs, guessed = cs[:i], true
	}
	if a, ok := charsetAliases[cs]; ok {
		return a, guessed || a != cs
	}
	return cs, guessed
}

// isUTF7Label reports whether cs names UTF-7 (RFC 2152).
func isUTF7Label(cs string) bool {
	switch cs {
	case "utf-7", "utf7", "unicode-1-1-utf-7", "csunicode11utf7", "x-unicode-2-0-utf-7":
		return true
	}
	return false
}

// charsetReader returns r decoded from the charset cs (a cleaned label,
// see cleanCharset) into UTF-8. Labelled ISO-8859-1 reads as Windows-1252,
// as browsers read it. The error says the charset is unknown.
func charsetReader(cs string, r io.Reader) (io.Reader, error) {
	cs, _ = cleanCharset(cs)
	switch {
	case isUTF8Label(cs):
		return r, nil
	case isUTF7Label(cs):
		return transform.NewReader(r, &utf7Decoder{}), nil
	case cs == "iso-8859-1" || cs == "latin1" || cs == "iso_8859-1":
		cs = "windows-1252"
	}
	return charset.Reader(cs, r)
}

// wordDecoder decodes RFC 2047 encoded words with charsetReader.
func wordDecoder() *mime.WordDecoder {
	return &mime.WordDecoder{CharsetReader: charsetReader}
}

// decodeWords decodes the RFC 2047 encoded words of a header value; on an
// error the value is returned as written, with the error.
func decodeWords(s string) (string, error) {
	d, err := wordDecoder().DecodeHeader(s)
	if err != nil {
		return s, err
	}
	return d, nil
}

// rawHeaderText turns a header value holding raw 8-bit bytes into UTF-8.
// Valid UTF-8 is kept as it is. Otherwise the bytes are read in hint, the
// charset of the message's first text part, when that reads them cleanly,
// or else in the charset detectCharset guesses. how says which, for the
// problem that notes the guess; it is "" when nothing was guessed.
func rawHeaderText(s, hint string) (text, how string) {
	if utf8.ValidString(s) {
		return s, ""
	}
	if hint != "" && !isUTF8Label(hint) {
		if d, ok := decodeStrict(s, hint); ok {
			return d, fmt.Sprintf("read as %s, the charset of the first text part", hint)
		}
	}
	cs := detectCharset(s)
	d, _ := decodeStrict(s, cs)
	return d, fmt.Sprintf("read as %s, guessed from the bytes", cs)
}

// decodeStrict decodes s from cs and reports whether every byte was valid
// there and no control character came out.
func decodeStrict(s, cs string) (string, bool) {
	r, err := charsetReader(cs, strings.NewReader(s))
	if err != nil {
		return strings.ToValidUTF8(s, "\uFFFD"), false
	}
	b, err := io.ReadAll(r)
	d := strings.ToValidUTF8(string(b), "\uFFFD")
	if err != nil || strings.ContainsRune(d, utf8.RuneError) {
		return d, false
	}
	for _, c := range d {
		if c < ' ' && c != '\t' || c >= 0x7f && c < 0xa0 {
			return d, false
		}
	}
	return d, true
}

// detectCharset guesses the charset of bytes that are not UTF-8, among
// those raw headers are mostly written in: Shift_JIS, GBK (GB2312),
// EUC-KR and Windows-1252 (Latin-1). It is a heuristic for short texts,
// not a general detector. Each charset that reads the bytes cleanly is
// scored by how plausible the letters it gives are for it, weighed by the
// bytes they take: kana and Han for Shift_JIS, Han for GBK, Hangul for
// EUC-KR, Latin letters and typographic marks for Windows-1252; a
// double-byte letter wedged between two ASCII letters ("Gr廻e") counts
// against it. EUC-KR and GBK read the same bytes as Hangul and as Han, so
// Hangul words separated by spaces, as Korean writes them, tip it to
// EUC-KR. Windows-1252 wins ties and is the answer when nothing reads
// cleanly.
func detectCharset(s string) string {
	best, bestScore := "windows-1252", plausibility(s, "windows-1252")
	for _, cs := range []string{"shift_jis", "gbk", "euc-kr"} {
		if sc := plausibility(s, cs); sc > bestScore {
			best, bestScore = cs, sc
		}
	}
	return best
}

// detectEncodings are the charsets detectCharset weighs.
var detectEncodings = map[string]encoding.Encoding{
	"shift_jis":    japanese.ShiftJIS,
	"gbk":          simplifiedchinese.GBK,
	"euc-kr":       korean.EUCKR,
	"windows-1252": charmap.Windows1252,
}

// plausibility scores s read in cs (see detectCharset); a charset that
// does not read s cleanly scores below any that does.
func plausibility(s, cs string) int {
	d, ok := decodeWith(s, detectEncodings[cs])
	if !ok {
		return -1 << 30
	}
	weight := 2 // bytes per letter
	if cs == "windows-1252" {
		weight = 1
	}
	score := 0
	var prev rune
	rs := []rune(d)
	for i, c := range rs {
		if c < utf8.RuneSelf {
			prev = c
			continue
		}
		var next rune
		if i+1 < len(rs) {
			next = rs[i+1]
		}
		native := nativeTo(c, cs)
		if weight == 2 && isASCIILetter(prev) && isASCIILetter(next) {
			native = false
		}
		if native {
			score += weight
		} else {
			score -= weight
		}
		prev = c
	}
	if cs == "euc-kr" && spaceBetweenWide(d) {
		score += 2
	}
	return score
}

// nativeTo reports whether c is a letter or mark text in cs is made of.
func nativeTo(c rune, cs string) bool {
	cjkPunct := c >= 0x3000 && c <= 0x303F || c >= 0xFF01 && c <= 0xFF5E
	switch cs {
	case "shift_jis":
		return cjkPunct || unicode.In(c, unicode.Hiragana, unicode.Han) || c >= 0x30A0 && c <= 0x30FF
	case "gbk":
		return cjkPunct || unicode.Is(unicode.Han, c)
	case "euc-kr":
		return cjkPunct || isHangul(c)
	}
	switch c {
	case 0x2013, 0x2014, 0x2018, 0x2019, 0x201C, 0x201D, 0x2026, 0x20AC, 0xB0, 0xAB, 0xBB, 0xA9, 0xAE:
		return true
	}
	return c >= 0xC0 && c <= 0x17F && c != 0xD7 && c != 0xF7
}

func isASCIILetter(c rune) bool { return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' }

func decodeWith(s string, e encoding.Encoding) (string, bool) {
	d, _, err := transform.String(e.NewDecoder(), s)
	if err != nil || strings.ContainsRune(d, utf8.RuneError) {
		return "", false
	}
	for _, c := range d {
		if c < ' ' && c != '\t' || c >= 0x7f && c < 0xa0 {
			return "", false
		}
	}
	return d, true
}

func isHangul(c rune) bool { return c >= 0xAC00 && c <= 0xD7A3 }

// isWide reports whether c is a letter outside Latin-1: what a
// double-byte charset decodes into.
func isWide(c rune) bool { return c > 0xff && unicode.IsLetter(c) }

// spaceBetweenWide reports whether a space separates two wide letters.
func spaceBetweenWide(s string) bool {
	var prevWide, spaced bool
	for _, c := range s {
		switch {
		case isWide(c):
			if prevWide && spaced {
				return true
			}
			prevWide, spaced = true, false
		case c == ' ':
			spaced = prevWide
		default:
			prevWide, spaced = false, false
		}
	}
	return false
}
