package catalog

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/triage-bot/triage/internal/sharedtest"
)

func reference(t *testing.T) []byte {
	t.Helper()
	data, err := os.ReadFile(sharedtest.Path(t, "_err_ngrok_list.mdx"))
	require.NoError(t, err)
	return data
}

func serve(t *testing.T, h http.HandlerFunc) string {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv.URL + "/snippets/errors/_err_ngrok_list.mdx"
}

func TestSyncFromServer(t *testing.T) {
	ref := reference(t)
	url := serve(t, func(w http.ResponseWriter, r *http.Request) { w.Write(ref) })
	dir := t.TempDir()
	now := func() time.Time { return time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC) }

	rep, err := Sync(context.Background(), SyncOptions{From: url, DataDir: dir, Now: now})
	require.NoError(t, err)
	assert.True(t, rep.First)
	assert.Equal(t, 1582, rep.Total, "rows in the shared snapshot")
	assert.Len(t, rep.Added, rep.Total)

	off, err := ReadOfficial(dir)
	require.NoError(t, err)
	assert.Equal(t, url, off.Source)
	assert.Contains(t, off.Messages[108], "simultaneous", "the official text of 108 is stored")
	assert.NotContains(t, off.Messages[100], "`", "backticks are stripped")

	c, err := Load(LoadOptions{DataDir: dir})
	require.NoError(t, err)
	assert.Equal(t, off.Messages[108], c.Lookup(108).Official, "annotations show the official message")
	assert.NotEmpty(t, c.Lookup(108).Summary)

	// A second sync with one row changed, one removed and one added.
	lines := strings.Split(string(ref), "\n")
	var edited []string
	for _, l := range lines {
		switch {
		case strings.HasPrefix(l, "| [ERR_NGROK_108]"):
			l = "| [ERR_NGROK_108](/errors/err_ngrok_108) | Changed wording. |"
		case strings.HasPrefix(l, "| [ERR_NGROK_3200]"):
			continue
		}
		edited = append(edited, l)
	}
	edited = append(edited, "| [ERR_NGROK_99123](/errors/err_ngrok_99123) | A brand new error. |")
	file := filepath.Join(t.TempDir(), "list.mdx")
	require.NoError(t, os.WriteFile(file, []byte(strings.Join(edited, "\n")), 0o644))
	rep, err = Sync(context.Background(), SyncOptions{From: file, DataDir: dir, Now: now})
	require.NoError(t, err)
	assert.False(t, rep.First)
	assert.Equal(t, []int{99123}, rep.Added)
	assert.Equal(t, []int{108}, rep.Changed)
	assert.Equal(t, []int{3200}, rep.Removed)

	c, err = Load(LoadOptions{DataDir: dir})
	require.NoError(t, err)
	u := c.Lookup(99123)
	assert.False(t, u.Known)
	assert.Equal(t, "A brand new error.", u.Official, "unknown codes still show ngrok's message")
}

func TestSyncFailuresLeaveDataUntouched(t *testing.T) {
	ref := reference(t)
	dir := t.TempDir()
	good := serve(t, func(w http.ResponseWriter, r *http.Request) { w.Write(ref) })
	_, err := Sync(context.Background(), SyncOptions{From: good, DataDir: dir})
	require.NoError(t, err)
	before, err := os.ReadFile(filepath.Join(dir, OfficialFile))
	require.NoError(t, err)

	cut := ref[:len(ref)/2]
	cut = cut[:strings.LastIndex(string(cut), "|")-3] // ends inside a row
	tests := []struct {
		name    string
		h       http.HandlerFunc
		timeout time.Duration
		want    string
	}{
		{"truncated table", func(w http.ResponseWriter, r *http.Request) { w.Write(cut) }, 0, "truncated download"},
		{"html error page", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/html")
			w.Write([]byte("<!DOCTYPE html><html><body>Rate limited</body></html>"))
		}, 0, "got an HTML page"},
		{"404", func(w http.ResponseWriter, r *http.Request) { http.NotFound(w, r) }, 0, "answered 404 Not Found"},
		{"500", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(500) }, 0, "answered 500"},
		{"timeout", func(w http.ResponseWriter, r *http.Request) {
			select {
			case <-r.Context().Done():
			case <-time.After(5 * time.Second):
			}
		}, 200 * time.Millisecond, "did not answer within 200ms"},
		{"too few rows", func(w http.ResponseWriter, r *http.Request) {
			w.Write([]byte("| Code | Message |\n|---|---|\n| [ERR_NGROK_1](/errors/err_ngrok_1) | x |\n"))
		}, 0, "found 1 error rows"},
		{"not a table", func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("hello")) }, 0, "found 0 error rows"},
		{"bad code", func(w http.ResponseWriter, r *http.Request) {
			w.Write([]byte("| [ERR_NGROK_x](/e) | y |\n"))
		}, 0, "line 1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Sync(context.Background(), SyncOptions{From: serve(t, tt.h), DataDir: dir, Timeout: tt.timeout})
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.want)
			after, err := os.ReadFile(filepath.Join(dir, OfficialFile))
			require.NoError(t, err)
			assert.Equal(t, before, after, "the previous sync is untouched")
			entries, err := os.ReadDir(dir)
			require.NoError(t, err)
			assert.Len(t, entries, 1, "no temporary files are left behind")
		})
	}

	// A table that lost most rows is refused unless forced.
	small := "| Code | Message |\n"
	for i := 1; i <= 200; i++ {
		small += fmt.Sprintf("| [ERR_NGROK_%d](/errors/err_ngrok_%d) | m |\n", i, i)
	}
	url := serve(t, func(w http.ResponseWriter, r *http.Request) { w.Write([]byte(small)) })
	_, err = Sync(context.Background(), SyncOptions{From: url, DataDir: dir})
	assert.ErrorContains(t, err, "fewer than half")
	_, err = Sync(context.Background(), SyncOptions{From: url, DataDir: dir, Force: true})
	assert.NoError(t, err)

	_, err = Sync(context.Background(), SyncOptions{From: filepath.Join(dir, "nope.mdx"), DataDir: dir})
	assert.ErrorContains(t, err, "nope.mdx")
}

func TestReadOfficialDamaged(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, OfficialFile), []byte("{"), 0o644))
	_, err := Load(LoadOptions{DataDir: dir})
	assert.ErrorContains(t, err, "damaged")
}

func TestSyncUnreachableSaysSoInOneLine(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	closed := "http://" + ln.Addr().String() + "/list.mdx"
	require.NoError(t, ln.Close())
	tests := []struct {
		name, from, reason string
	}{
		{"no DNS", "https://ngrok-docs.invalid/list.mdx", ""},
		{"refused", closed, "the connection was refused"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Sync(context.Background(), SyncOptions{From: tt.from, DataDir: t.TempDir(), Timeout: 5 * time.Second})
			require.Error(t, err)
			msg := err.Error()
			assert.NotContains(t, msg, "\n")
			assert.NotContains(t, msg, "dial tcp", "the network's own words stay out of the message")
			assert.Contains(t, msg, "triage catalog sync --from FILE")
			if tt.name == "no DNS" {
				assert.Contains(t, msg, "ngrok-docs.invalid (")
				assert.Contains(t, msg, "offline, or no DNS")
				var dns *net.DNSError
				assert.ErrorAs(t, err, &dns, "the cause stays reachable")
				return
			}
			assert.Contains(t, msg, tt.reason)
		})
	}
}
