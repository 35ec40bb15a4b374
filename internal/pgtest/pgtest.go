package pgtest

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"go.uber.org/goleak"
)

// The test binary's server, started by the first test that needs one.
var (
	shared struct {
		once    sync.Once
		server  *Server // nil when DATABASE_URL is used, or on failure
		admin   string  // URL of a database to run CREATE DATABASE in
		err     error
		started atomic.Bool
	}
	dbSeq atomic.Int64
)

// server returns the shared server's admin URL, starting a private
// instance on first use unless DATABASE_URL is set.
func server() (admin string, s *Server, err error) {
	shared.once.Do(func() {
		shared.started.Store(true)
		if u := os.Getenv(URLEnv); u != "" {
			shared.admin = u
			return
		}
		shared.server, shared.err = StartServer()
		if shared.err == nil {
			shared.admin = shared.server.URL("postgres")
		}
	})
	return shared.admin, shared.server, shared.err
}

// Main runs the package's tests, stops the private server if one was
// started, checks that no goroutine leaked (goleak), and exits with the
// tests' status. Call it from TestMain with the *testing.M, or with a
// wrapper whose Run also closes other shared servers.
func Main(m interface{ Run() int }) {
	code := m.Run()
	if shared.started.Load() && shared.server != nil {
		if err := shared.server.Close(); err != nil {
			fmt.Fprintln(os.Stderr, err)
			code = 1
		}
	}
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintf(os.Stderr, "goleak: errors on successful test run: %v\n", err)
			code = 1
		}
	}
	os.Exit(code)
}

// inCI reports whether CI says this is a CI run (set and not false or 0).
func inCI() bool {
	switch strings.ToLower(strings.TrimSpace(os.Getenv("CI"))) {
	case "", "false", "0":
		return false
	}
	return true
}

// Available reports whether a server can be had, starting one if needed;
// the error says why not.
func Available() error {
	_, _, err := server()
	return err
}

// Require skips t when no server can be had (failing it under CI=true).
func Require(t testing.TB) {
	t.Helper()
	if err := Available(); err != nil {
		const hint = "install Debian's postgresql package (scripts/postgres.sh does), or set " + URLEnv
		if inCI() {
			t.Fatalf("pgtest: %v; CI requires PostgreSQL: %s", err, hint)
		}
		t.Skipf("pgtest: skipping, %v; %s", err, hint)
	}
}

var unsafeName = regexp.MustCompile(`[^a-z0-9_]+`)

// NewDatabase creates an empty database for t and returns its URL; the
// database is dropped when t ends. It skips t when no server can be had.
func NewDatabase(t testing.TB) string {
	t.Helper()
	Require(t)
	admin, _, _ := server()
	name := fmt.Sprintf("t%d_%s", dbSeq.Add(1), unsafeName.ReplaceAllString(strings.ToLower(t.Name()), "_"))
	name = name[:min(len(name), 60)]
	if err := adminExec(admin, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
		t.Fatalf("pgtest: create database %s: %v", name, err)
	}
	t.Cleanup(func() {
		if err := adminExec(admin, "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)"); err != nil {
			t.Errorf("pgtest: drop database %s: %v", name, err)
		}
	})
	u, err := withDatabase(admin, name)
	if err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	return u
}

// adminExec runs one statement on the admin database, retrying while a
// restarting server does not yet accept connections.
func adminExec(admin, stmt string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var err error
	for ctx.Err() == nil {
		var conn *pgx.Conn
		if conn, err = pgx.Connect(ctx, admin); err == nil {
			_, err = conn.Exec(ctx, stmt)
			conn.Close(context.Background())
			return err
		}
		time.Sleep(50 * time.Millisecond)
	}
	return err
}

// withDatabase returns admin's URL with its database replaced by name.
func withDatabase(admin, name string) (string, error) {
	u, err := url.Parse(admin)
	if err != nil {
		return "", fmt.Errorf("%s is not a URL: %w", URLEnv, err)
	}
	u.Path = "/" + name
	return u.String(), nil
}

// Restart stops the shared server (fast shutdown: every session ends) and
// starts it again on the same address, failing t if it cannot. It skips t
// when the server is DATABASE_URL's, which the tests do not own.
func Restart(t testing.TB) {
	t.Helper()
	s := Private(t)
	if err := s.Stop(); err != nil {
		t.Fatal(err)
	}
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
}

// Private returns the shared private server, for tests that stop and
// start it themselves; it skips t when DATABASE_URL's server is used.
func Private(t testing.TB) *Server {
	t.Helper()
	Require(t)
	_, s, _ := server()
	if s == nil {
		t.Skipf("pgtest: the server is %s's; restarting it is not the tests' to do", URLEnv)
	}
	return s
}
