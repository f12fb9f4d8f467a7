package mailfile

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// readAll reads every message of an mbox.
func readAll(t *testing.T, r io.Reader) []string {
	t.Helper()
	m := NewMboxReader(r)
	var msgs []string
	for {
		msg, err := m.Next()
		if errors.Is(err, io.EOF) {
			return msgs
		}
		require.NoError(t, err)
		b, err := io.ReadAll(msg)
		require.NoError(t, err)
		msgs = append(msgs, string(b))
	}
}

const threeMessages = `From alice@example.org Mon Dec  1 10:00:00 2026
From: alice@example.org
Subject: one

ERR_NGROK_108 here.
>From the start it failed.
>>From quoted twice.
 >From not at line start stays.

From bob@example.org Mon Dec  1 11:00:00 2026
From: bob@example.org
Subject: two

From here on, an unescaped line that is not a postmark.
second body line

From carol@example.org Mon Dec  1 12:00:00 2026
From: carol@example.org
Subject: three

last
`

func TestMboxReader(t *testing.T) {
	want := []string{
		"From: alice@example.org\nSubject: one\n\nERR_NGROK_108 here.\nFrom the start it failed.\n>From quoted twice.\n >From not at line start stays.\n\n",
		"From: bob@example.org\nSubject: two\n\nFrom here on, an unescaped line that is not a postmark.\nsecond body line\n\n",
		"From: carol@example.org\nSubject: three\n\nlast\n",
	}
	crlf := func(s []string) []string {
		out := make([]string, len(s))
		for i, m := range s {
			out[i] = strings.ReplaceAll(m, "\n", "\r\n")
		}
		return out
	}
	tests := []struct {
		name string
		r    func() io.Reader
		want []string
	}{
		{"lf", func() io.Reader { return strings.NewReader(threeMessages) }, want},
		{"crlf", func() io.Reader { return strings.NewReader(strings.ReplaceAll(threeMessages, "\n", "\r\n")) }, crlf(want)},
		{"one byte reads", func() io.Reader { return iotest.OneByteReader(strings.NewReader(threeMessages)) }, want},
		{"half reads", func() io.Reader { return iotest.HalfReader(strings.NewReader(threeMessages)) }, want},
		{"leading blank lines", func() io.Reader { return strings.NewReader("\n\n" + threeMessages) }, want},
		{"no final newline", func() io.Reader { return strings.NewReader(strings.TrimSuffix(threeMessages, "\n")) }, append(want[:2:2], strings.TrimSuffix(want[2], "\n"))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, readAll(t, tt.r()))
		})
	}
}

func TestMboxReaderPostmarkWithoutBlankLine(t *testing.T) {
	in := "From a@x Mon Dec  1 10:00:00 2026\nSubject: a\n\nbody a\nFrom b@x Mon Dec  1 11:00:00 2026\nSubject: b\n\nbody b\n"
	assert.Equal(t, []string{"Subject: a\n\nbody a\n", "Subject: b\n\nbody b\n"}, readAll(t, strings.NewReader(in)))
}

func TestMboxReaderEmpty(t *testing.T) {
	assert.Empty(t, readAll(t, strings.NewReader("")))
	assert.Empty(t, readAll(t, strings.NewReader("\n\n")))
}

func TestMboxReaderSkipsUnreadRest(t *testing.T) {
	m := NewMboxReader(strings.NewReader(threeMessages))
	first, err := m.Next()
	require.NoError(t, err)
	buf := make([]byte, 4)
	_, err = io.ReadFull(first, buf)
	require.NoError(t, err)
	second, err := m.Next()
	require.NoError(t, err)
	b, err := io.ReadAll(second)
	require.NoError(t, err)
	assert.True(t, strings.HasPrefix(string(b), "From: bob@example.org\n"))
	_, err = first.Read(buf)
	assert.Error(t, err, "a message reader is invalid after Next")
}

// TestMboxReaderAcrossBufferBoundaries puts lines, postmarks and escapes
// across the reader's buffer edges, with lines longer than the buffer.
func TestMboxReaderAcrossBufferBoundaries(t *testing.T) {
	long := strings.Repeat("x", mboxBufferSize*2+17) + " ERR_NGROK_727\n"
	var in, want bytes.Buffer
	var msgs []string
	for i := 0; i < 40; i++ {
		pad := strings.Repeat("p", (i*4099)%mboxBufferSize)
		body := "Subject: m\n\n" + pad + "\n>From escaped\n" + long
		in.WriteString("From x@y Mon Dec  1 10:00:00 2026\n" + body + "\n")
		msgs = append(msgs, strings.Replace(body, ">From escaped", "From escaped", 1)+"\n")
	}
	want.WriteString(strings.Join(msgs, ""))
	got := readAll(t, bytes.NewReader(in.Bytes()))
	require.Len(t, got, len(msgs))
	assert.Equal(t, msgs, got)
}

func TestMboxReaderReadError(t *testing.T) {
	r := io.MultiReader(strings.NewReader("From a@x Mon Dec  1 10:00:00 2026\nSubject: a\n\nbody"), iotest.ErrReader(errors.New("disk gone")))
	m := NewMboxReader(r)
	msg, err := m.Next()
	require.NoError(t, err)
	_, err = io.ReadAll(msg)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "disk gone")
	_, err = m.Next()
	require.Error(t, err)
	assert.Contains(t, err.Error(), "mbox: read")
}
