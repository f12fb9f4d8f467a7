package normalize

import (
	"unicode/utf16"
	"unicode/utf8"

	"golang.org/x/text/transform"
)

// utf7Decoder decodes UTF-7 (RFC 2152) into UTF-8, leniently: direct
// characters are any ASCII but '+', "+-" is '+', and "+…" is modified
// base64 of UTF-16 ended by '-' (absorbed) or by any other character.
// Bytes ≥ 0x80 and lone surrogates become U+FFFD. It is a
// transform.Transformer, so it streams.
type utf7Decoder struct {
	inB64 bool
	bits  uint32 // base64 bits not yet used
	nbits uint
	high  rune // a high surrogate waiting for its low half; 0 when none
	fresh bool // the base64 run has just started: a '-' now means "+-"
}

// utf7Base64 maps a base64 character to its value, or -1.
func utf7Base64(c byte) int {
	switch {
	case 'A' <= c && c <= 'Z':
		return int(c - 'A')
	case 'a' <= c && c <= 'z':
		return int(c-'a') + 26
	case '0' <= c && c <= '9':
		return int(c-'0') + 52
	case c == '+':
		return 62
	case c == '/':
		return 63
	}
	return -1
}

// Reset implements transform.Transformer.
func (d *utf7Decoder) Reset() { *d = utf7Decoder{} }

// Transform implements transform.Transformer.
func (d *utf7Decoder) Transform(dst, src []byte, atEOF bool) (nDst, nSrc int, err error) {
	for nSrc < len(src) {
		// Room for one rune and a pending surrogate's replacement.
		if len(dst)-nDst < 2*utf8.UTFMax {
			return nDst, nSrc, transform.ErrShortDst
		}
		c := src[nSrc]
		if d.inB64 {
			if v := utf7Base64(c); v >= 0 {
				d.fresh = false
				d.bits = d.bits<<6 | uint32(v)
				d.nbits += 6
				if d.nbits >= 16 {
					d.nbits -= 16
					unit := rune(d.bits >> d.nbits & 0xffff)
					d.bits &= 1<<d.nbits - 1
					nDst += d.unit(dst[nDst:], unit)
				}
				nSrc++
				continue
			}
			nDst += d.end(dst[nDst:])
			if c == '-' {
				if d.fresh {
					nDst += copy(dst[nDst:], "+")
				}
				d.fresh = false
				nSrc++
				continue
			}
			d.fresh = false
		}
		switch {
		case c == '+':
			d.inB64, d.fresh, d.bits, d.nbits = true, true, 0, 0
		case c >= utf8.RuneSelf:
			nDst += utf8.EncodeRune(dst[nDst:], utf8.RuneError)
		default:
			dst[nDst] = c
			nDst++
		}
		nSrc++
	}
	if atEOF {
		if len(dst)-nDst < utf8.UTFMax {
			return nDst, nSrc, transform.ErrShortDst
		}
		nDst += d.end(dst[nDst:])
		if d.fresh {
			nDst += copy(dst[nDst:], "+")
		}
		d.inB64, d.fresh = false, false
	}
	return nDst, nSrc, nil
}

// unit writes one UTF-16 code unit, pairing surrogates.
func (d *utf7Decoder) unit(dst []byte, u rune) int {
	n := 0
	if d.high != 0 {
		h := d.high
		d.high = 0
		if utf16.IsSurrogate(u) && u >= 0xDC00 {
			return utf8.EncodeRune(dst, utf16.DecodeRune(h, u))
		}
		n = utf8.EncodeRune(dst, utf8.RuneError)
	}
	switch {
	case u >= 0xD800 && u < 0xDC00:
		d.high = u
	case utf16.IsSurrogate(u):
		n += utf8.EncodeRune(dst[n:], utf8.RuneError)
	default:
		n += utf8.EncodeRune(dst[n:], u)
	}
	return n
}

// end leaves base64: a high surrogate left alone is replaced.
func (d *utf7Decoder) end(dst []byte) int {
	d.inB64, d.bits, d.nbits = false, 0, 0
	if d.high != 0 {
		d.high = 0
		return utf8.EncodeRune(dst, utf8.RuneError)
	}
	return 0
}
