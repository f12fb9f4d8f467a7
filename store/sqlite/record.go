package sqlite

import (
	"fmt"
	"strings"
	"time"
)

// encodeCodes stores codes as ",108,3200," so that a code is found with
// instr(codes, ',108,') and never as part of a longer code.
func encodeCodes(codes []int) string {
	if len(codes) == 0 {
		return ""
	}
	var b strings.Builder
	b.WriteString(",")
	for _, c := range codes {
		fmt.Fprintf(&b, "%d,", c)
	}
	return b.String()
}

func decodeCodes(s string) ([]int, error) {
	var codes []int
	for f := range strings.SplitSeq(strings.Trim(s, ","), ",") {
		if f == "" {
			continue
		}
		var c int
		if _, err := fmt.Sscanf(f, "%d", &c); err != nil {
			return nil, fmt.Errorf("decode codes %q: %w", s, err)
		}
		codes = append(codes, c)
	}
	return codes, nil
}

// micros converts a time to the stored integer.
func micros(t time.Time) int64 { return t.UnixMicro() }

// fromMicros converts a stored integer to a UTC time.
func fromMicros(v int64) time.Time { return time.UnixMicro(v).UTC() }
