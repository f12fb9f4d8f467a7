// Package sharedtest finds the team's shared test data (ngrok's public
// error reference) that lives beside the repository in ../shared and is
// never committed into it.
package sharedtest

import (
	"os"
	"path/filepath"
	"testing"
)

// Path returns the path of name under ../shared/ngrok-errors relative to
// the repository root. When the folder is absent (a user's fresh clone)
// the test is skipped with a message saying so; under CI=true it fails,
// since CI must run these tests.
func Path(t testing.TB, name string) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatalf("sharedtest: %v", err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			break
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatalf("sharedtest: no go.mod above the test's directory")
		}
		dir = parent
	}
	p := filepath.Join(dir, "..", "shared", "ngrok-errors", name)
	if _, err := os.Stat(p); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("sharedtest: %s is missing; CI must provide ../shared beside the clone: %v", p, err)
		}
		t.Skipf("sharedtest: %s not found (../shared is the team's folder beside the repository); skipping", p)
	}
	return p
}
