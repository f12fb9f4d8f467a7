package main

import (
	"bytes"
	"context"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestBenchSmall runs every path with 50 deliveries against a freshly
// built triage, so CI knows the bench works. It checks counts only,
// never times.
func TestBenchSmall(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "triage")
	out, err := exec.Command("go", "build", "-o", bin, "github.com/triage-bot/triage/cmd/triage").CombinedOutput()
	require.NoError(t, err, "go build: %s", out)

	o := options{triage: bin, dir: dir, n: 50, concurrency: 16, runs: 1, paths: pathNames, timeout: 2 * time.Minute}
	res, err := measure(context.Background(), o)
	require.NoError(t, err)
	for _, p := range pathNames {
		t.Run(p, func(t *testing.T) {
			require.Len(t, res[p], 1)
			r := res[p][0]
			assert.Equal(t, 50, r.deliveries)
			assert.Equal(t, 50, r.acked, "every call answered 200")
			assert.Len(t, r.latencies, 50)
			assert.Equal(t, 50, r.written, "a note or reply for every ticket")
			assert.Zero(t, r.extra, "no second note or reply")
		})
	}
	var table bytes.Buffer
	report(&table, o, res)
	for _, row := range []string{"zendesk trigger → internal note", "zendesk event → internal note", "freshdesk automation → private note",
		"front rule → comment", "help scout webhook → note", "slack events → thread reply"} {
		assert.Contains(t, table.String(), row)
	}
}

func TestRunRefusesBadFlags(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"no binary", nil, "-triage: give the triage binary"},
		{"unknown path", []string{"-triage", "x", "-paths", "zendesk trigger,imap"}, `-paths: no path "imap"`},
		{"no deliveries", []string{"-triage", "x", "-n", "0"}, "must be at least 1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out bytes.Buffer
			err := run(context.Background(), tt.args, &out)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.want)
			assert.Empty(t, out.String())
		})
	}
}
