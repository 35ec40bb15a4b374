package main

import (
	"bufio"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/huleedu/huleedu/event"
	"github.com/huleedu/huleedu/outbox"
	"github.com/huleedu/huleedu/sqldb"
)

// filledOutbox returns a SQLite database whose outbox holds n rows on
// topic "orders" (keys k0, k1, ...), the first dead of them dead-lettered
// with reason "MESSAGE_TOO_LARGE: test". The database is closed.
func filledOutbox(t *testing.T, n, dead int) string {
	t.Helper()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "svc.db")
	db, err := sqldb.Open(ctx, path, sqldb.Options{Migrations: []sqldb.Migrations{outbox.Migrations()}})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ob, err := outbox.New(ctx, db, outbox.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for i := range n {
		env, err := event.NewEnvelope("huleedu.test.v1", "cli-test", map[string]int{"i": i})
		if err != nil {
			t.Fatal(err)
		}
		if err := db.InTx(ctx, func(tx *sql.Tx) error {
			return ob.Enqueue(ctx, tx, outbox.Message{Topic: "orders", Key: fmt.Sprintf("k%d", i), Envelope: env})
		}); err != nil {
			t.Fatal(err)
		}
	}
	all := make([]int, outbox.LeasePartitions)
	for i := range all {
		all[i] = i
	}
	rows, err := ob.Store().Pending(ctx, all, time.Now(), dead)
	if err != nil {
		t.Fatal(err)
	}
	var fs []outbox.Failure
	for _, r := range rows {
		fs = append(fs, outbox.Failure{ID: r.ID, Err: "MESSAGE_TOO_LARGE: test"})
	}
	if err := ob.Store().Settle(ctx, outbox.Settlement{At: time.Now(), Dead: fs}); err != nil {
		t.Fatal(err)
	}
	return path
}

func outboxStats(t *testing.T, path string) outbox.TableStats {
	t.Helper()
	ctx := context.Background()
	db, err := sqldb.Open(ctx, path, sqldb.Options{MustExist: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ob, err := outbox.New(ctx, db, outbox.Options{})
	if err != nil {
		t.Fatal(err)
	}
	st, err := ob.Stats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func TestOutboxInspectShowsDepthAndDeadLettersWithReasons(t *testing.T) {
	path := filledOutbox(t, 5, 2)
	r := runCLI(t, nil, "outbox", "inspect", "--database", path)
	if r.code != exitOK {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	for _, want := range []string{"pending", "3 rows (0 waiting for a retry)", "dead letters", "2 (oldest", "MESSAGE_TOO_LARGE: test", "0 alive", "64 partitions held by no live relay"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("inspect output lacks %q:\n%s", want, r.stdout)
		}
	}
	r = runCLI(t, nil, "outbox", "inspect", "--database", path, "--json")
	var rep outboxReport
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil || rep.Pending != 3 || rep.DeadLetters != 2 || len(rep.Dead) != 2 {
		t.Fatalf("--json: %+v (%v)\n%s", rep, err, r.stdout)
	}
}

func TestOutboxDeadLettersPrintsEachAsAJSONLine(t *testing.T) {
	path := filledOutbox(t, 4, 3)
	r := runCLI(t, nil, "outbox", "dead-letters", "--database", path)
	if r.code != exitOK {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	sc := bufio.NewScanner(strings.NewReader(r.stdout))
	n := 0
	for sc.Scan() {
		var d deadRowJSON
		if err := json.Unmarshal(sc.Bytes(), &d); err != nil {
			t.Fatalf("line %q: %v", sc.Text(), err)
		}
		if d.Reason != "MESSAGE_TOO_LARGE: test" || d.Topic != "orders" || d.Headers[event.HeaderEventID] != d.EventID || len(d.Envelope) == 0 {
			t.Errorf("dead letter %+v", d)
		}
		n++
	}
	if n != 3 {
		t.Fatalf("%d lines, want 3", n)
	}
}

func TestOutboxRedriveCountsExactly(t *testing.T) {
	path := filledOutbox(t, 5, 3)
	r := runCLI(t, nil, "outbox", "redrive", "--database", path, "--id", "1", "--id", "5")
	if r.code != exitOK || !strings.Contains(r.stdout, "re-drove 1 dead letters") || !strings.Contains(r.stdout, "2 dead letters remain") {
		t.Fatalf("redrive of one dead and one pending id: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	r = runCLI(t, nil, "outbox", "redrive", "--database", path)
	if r.code != exitOK || !strings.Contains(r.stdout, "re-drove 2 dead letters") || !strings.Contains(r.stdout, "0 dead letters remain") {
		t.Fatalf("redrive of the rest: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if st := outboxStats(t, path); st.Pending != 5 || st.DeadLetters != 0 {
		t.Fatalf("after redrive: %+v, want all 5 pending", st)
	}
}

func TestOutboxPurgeRefusesWithoutYes(t *testing.T) {
	path := filledOutbox(t, 3, 2)
	r := runCLI(t, nil, "outbox", "purge", "--database", path)
	assertCleanUsageError(t, r, "refusing without --yes")
	if st := outboxStats(t, path); st.DeadLetters != 2 {
		t.Fatalf("after a refused purge: %d dead letters, want 2 untouched", st.DeadLetters)
	}
}

func TestOutboxPurgeWithYesDeletesDeadLettersOnly(t *testing.T) {
	path := filledOutbox(t, 4, 2)
	r := runCLI(t, nil, "outbox", "purge", "--database", path, "--yes")
	if r.code != exitOK || !strings.Contains(r.stdout, "purged 2 dead letters") || !strings.Contains(r.stdout, "0 dead letters remain") {
		t.Fatalf("exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if st := outboxStats(t, path); st.Pending != 2 || st.DeadLetters != 0 {
		t.Fatalf("after purge: %+v, want the 2 pending rows kept", st)
	}
}

func TestOutboxRefusesClearlyWithoutADatabaseOrItsTable(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "nope.db")
	empty := filepath.Join(t.TempDir(), "empty.db")
	db, err := sqldb.Open(context.Background(), empty, sqldb.Options{})
	if err != nil {
		t.Fatal(err)
	}
	db.Close()
	for _, tc := range []struct{ name, dsn, want string }{
		{"missing file", missing, "does not exist"},
		{"no outbox table", empty, "no outbox table"},
		{"unreachable server", "postgres://huleedu:secret@127.0.0.1:1/x?connect_timeout=2", "server unreachable"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := runCLI(t, nil, "outbox", "redrive", "--database", tc.dsn)
			if r.code != exitFailed {
				t.Fatalf("exit %d, want %d\n%s", r.code, exitFailed, r.stderr)
			}
			if !strings.Contains(r.stderr, tc.want) || !strings.Contains(r.stderr, "nothing was changed") {
				t.Errorf("stderr %q does not say %q and that nothing was changed", r.stderr, tc.want)
			}
			if strings.Contains(r.stderr, "secret") {
				t.Errorf("stderr %q shows the password", r.stderr)
			}
			assertNoStackTrace(t, r.stderr)
		})
	}
}

func TestOutboxNeedsADatabase(t *testing.T) {
	t.Setenv("DATABASE_URL", "")
	assertCleanUsageError(t, runCLI(t, nil, "outbox", "inspect"), "--database is required")
	assertCleanUsageError(t, runCLI(t, nil, "outbox", "inspect", "extra"), "takes no arguments")
}
