package extract

// Bare numbers. People often write a code as a plain number beside the
// word error: "clicking the link gives error 3200", "we see 3200 errors
// since 22:00", "the 3200s are back", "Ngronk Error 802". Read alone, a
// number is anything (an HTTP status, a port, another vendor's code), so
// FindBare is strict: the number must be a code the caller's catalog
// knows, have four or more digits (HTTP statuses and most ports have
// fewer; three are allowed only after a misspelt "ngrok"), sit right
// beside "error", and no other vendor or a status/port word may be
// named just before it. Such a match has FormBare and a confidence
// below every other written form.

// bareVendors are words that, within bareWindow bytes before a bare
// number, say it belongs to something else.
var bareVendors = []string{"cloudflare", "cloudflared", "localtunnel", "pgrok", "http", "status", "port", "line", "chrome",
	"windows", "nginx", "apache", "mysql", "postgres", "redis", "vercel", "heroku", "aws", "azure", "github", "node", "python", "exit"}

// ngrokTypos are misspellings of ngrok seen in reports ("Ngronk Error 802").
var ngrokTypos = []string{"ngronk", "ngork", "ngrock", "nrgok"}

const bareWindow = 48

// FindBare finds bare code numbers in b (see the comment above); known
// reports whether a number is a code the catalog has. It is for texts of
// modest size (a ticket's part), not for streams.
func FindBare(b []byte, known func(int) bool) []Match {
	var out []Match
	add := func(start, end, code int) {
		if n := len(out); n > 0 && out[n-1].Offset == int64(start) {
			return
		}
		out = append(out, Match{Code: code, Offset: int64(start), Len: end - start, Form: FormBare})
	}
	for i := 0; i < len(b); {
		k := indexFold(b[i:], "error")
		if k < 0 {
			break
		}
		e := i + k
		i = e + len("error")
		if e > 0 && isAlnum(b[e-1]) {
			continue
		}
		typo := false
		for _, t := range ngrokTypos {
			if s := e - len(t) - 1; s >= 0 && indexFold(b[s:e-1], t) == 0 && (b[e-1] == ' ') {
				typo = true
			}
		}
		// "error N", "error: N", "error code N", "errors N".
		j := i
		if j < len(b) && (b[j] == 's' || b[j] == 'S') {
			j++
		}
		if j < len(b) && isAlnum(b[j]) {
			continue // errorless, errors2…
		}
		j = skipSeps(b, j)
		if hasPrefixFold(b, j, "code") && (j+4 == len(b) || !isAlnum(b[j+4])) {
			j = skipSeps(b, j+4)
		}
		if code, end, ok := bareNumber(b, j, typo, known); ok && !vendorBefore(b, e) {
			add(j, end, code)
		}
		// "N error", "N errors".
		if e >= 2 && b[e-1] == ' ' {
			s := e - 1
			for s > 0 && isDigit(b[s-1]) {
				s--
			}
			if s < e-1 && (s == 0 || !isAlnum(b[s-1]) && b[s-1] != '.' && b[s-1] != ':') {
				if code, end, ok := bareNumber(b, s, typo, known); ok && end == e-1 && !vendorBefore(b, s) {
					add(s, end, code)
				}
			}
		}
	}
	return out
}

func skipSeps(b []byte, j int) int {
	for n := 0; n < 3 && j < len(b) && (b[j] == ' ' || b[j] == ':' || b[j] == '#'); n++ {
		j++
	}
	return j
}

// bareNumber reads a known code of four or more digits (three after a
// misspelt ngrok) at b[i], allowing a plural s after it.
func bareNumber(b []byte, i int, typo bool, known func(int) bool) (code, end int, ok bool) {
	j := i
	for j < len(b) && isDigit(b[j]) && j-i < 6 {
		j++
	}
	digits := j - i
	if digits < 3 || digits > 5 || digits == 3 && !typo {
		return 0, 0, false
	}
	end = j
	if j < len(b) && (b[j] == 's' || b[j] == 'S') && (j+1 == len(b) || !isAlnum(b[j+1])) {
		j++ // "the 3200s"
	}
	if j < len(b) && (isAlnum(b[j]) || b[j] == '.' && j+1 < len(b) && isDigit(b[j+1]) || b[j] == ':' && j+1 < len(b) && isDigit(b[j+1])) {
		return 0, 0, false
	}
	for _, c := range b[i:end] {
		code = code*10 + int(c-'0')
	}
	if b[i] == '0' || !known(code) {
		return 0, 0, false
	}
	return code, end, true
}

// vendorBefore reports whether a word of bareVendors ends within
// bareWindow bytes before b[at].
func vendorBefore(b []byte, at int) bool {
	w := b[max(0, at-bareWindow):at]
	for _, v := range bareVendors {
		for k := 0; k+len(v) <= len(w); {
			x := indexFold(w[k:], v)
			if x < 0 {
				break
			}
			s := k + x
			if (s == 0 || !isLetter(w[s-1])) && (s+len(v) == len(w) || !isLetter(w[s+len(v)])) {
				return true
			}
			k = s + 1
		}
	}
	return false
}
