package normalize

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/triage-bot/triage/ticket"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// goldenPart is what a golden file records of each part.
type goldenPart struct {
	Kind        ticket.PartKind `json:"kind"`
	Name        string          `json:"name,omitempty"`
	ContentType string          `json:"content_type,omitempty"`
	Forwarded   bool            `json:"forwarded,omitempty"`
	Truncated   bool            `json:"truncated,omitempty"`
	Text        string          `json:"text"`
}

type golden struct {
	From       string            `json:"from,omitempty"`
	To         []string          `json:"to,omitempty"`
	Subject    string            `json:"subject,omitempty"`
	Date       string            `json:"date,omitempty"`
	MessageID  string            `json:"message_id,omitempty"`
	InReplyTo  string            `json:"in_reply_to,omitempty"`
	References []string          `json:"references,omitempty"`
	Headers    map[string]string `json:"headers,omitempty"`
	Parts      []goldenPart      `json:"parts"`
	Problems   []string          `json:"problems,omitempty"`
}

func toGolden(t *ticket.Ticket) golden {
	g := golden{
		From: t.From, To: t.To, Subject: t.Subject, MessageID: t.MessageID,
		InReplyTo: t.InReplyTo, References: t.References, Headers: t.Headers,
		Problems: t.Problems, Parts: []goldenPart{},
	}
	if !t.Date.IsZero() {
		g.Date = t.Date.UTC().Format(time.RFC3339)
	}
	for _, p := range t.Parts {
		g.Parts = append(g.Parts, goldenPart{p.Kind, p.Name, p.ContentType, p.Forwarded, p.Truncated, p.Text})
	}
	return g
}

// checkGolden compares got with testdata/<name>.golden.json, or rewrites it
// with -update.
func checkGolden(t *testing.T, name string, got any) {
	t.Helper()
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	require.NoError(t, enc.Encode(got))
	path := filepath.Join("testdata", name+".golden.json")
	if *update {
		require.NoError(t, os.WriteFile(path, buf.Bytes(), 0o644))
		return
	}
	want, err := os.ReadFile(path)
	require.NoError(t, err, "golden file missing; run go test -update")
	assert.Equal(t, string(want), buf.String())
}

func emlFiles(t testing.TB) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join("testdata", "*.eml"))
	require.NoError(t, err)
	require.NotEmpty(t, files)
	return files
}

func TestMessageGolden(t *testing.T) {
	for _, path := range emlFiles(t) {
		name := strings.TrimSuffix(filepath.Base(path), ".eml")
		t.Run(name, func(t *testing.T) {
			f, err := os.Open(path)
			require.NoError(t, err)
			defer f.Close()
			tk, err := Message(f, Limits{})
			require.NoError(t, err)
			assert.Equal(t, "email", tk.Source)
			checkGolden(t, name, toGolden(tk))
		})
	}
}
