// Package pgtest gives tests a PostgreSQL database of their own. The
// server comes from the environment: TRIAGE_TEST_POSTGRES holds a DSN
// (scripts/pg-test-server.sh starts a throwaway cluster and prints one).
// Without it tests are skipped, except under CI=true, where they fail:
// CI must run them.
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// EnvDSN names the environment variable holding the test server's DSN.
const EnvDSN = "TRIAGE_TEST_POSTGRES"

// DSN returns the test server's DSN. When EnvDSN is unset the test is
// skipped with a message saying how to run it, or fails when CI=true.
func DSN(t testing.TB) string {
	t.Helper()
	dsn := os.Getenv(EnvDSN)
	if dsn != "" {
		return dsn
	}
	const msg = EnvDSN + " is not set: PostgreSQL tests need a server " +
		"(export " + EnvDSN + "=$(scripts/pg-test-server.sh start /tmp/triage-pg) starts one)"
	if os.Getenv("CI") == "true" {
		t.Fatal("pgtest: " + msg + "; CI must run them")
	}
	t.Skip(msg)
	return ""
}

// Schema creates an empty schema with a random name on the test server,
// drops it with everything in it when the test ends, and returns a DSN
// whose connections use it as their search_path. Tests using different
// schemas do not see each other's tables.
func Schema(t testing.TB) string {
	t.Helper()
	dsn := DSN(t)
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatalf("pgtest: random schema name: %v", err)
	}
	schema := "triage_test_" + hex.EncodeToString(b[:])
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatalf("pgtest: connect to %s: %v", EnvDSN, err)
	}
	defer func() { _ = conn.Close(context.Background()) }()
	if _, err := conn.Exec(ctx, "CREATE SCHEMA "+schema); err != nil {
		t.Fatalf("pgtest: create schema %s: %v", schema, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, dsn)
		if err != nil {
			t.Errorf("pgtest: drop schema %s: %v", schema, err)
			return
		}
		defer func() { _ = conn.Close(context.Background()) }()
		if _, err := conn.Exec(ctx, "DROP SCHEMA "+schema+" CASCADE"); err != nil {
			t.Errorf("pgtest: drop schema %s: %v", schema, err)
		}
	})
	return WithSearchPath(dsn, schema)
}

// WithSearchPath returns dsn (a postgres:// URL or a key=value string)
// with its connections' search_path set to schema, a plain identifier.
func WithSearchPath(dsn, schema string) string {
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		u, err := url.Parse(dsn)
		if err == nil {
			q := u.Query()
			q.Set("search_path", schema)
			u.RawQuery = q.Encode()
			return u.String()
		}
	}
	return strings.TrimSpace(dsn) + " search_path=" + schema
}
