package spool

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"testing"

	"go.uber.org/goleak"

	"github.com/huleedu/huleedu/event"
)

// childEnv makes the test binary act as a helper process (see
// disk_lock_test.go and disk_crash_test.go) instead of running tests.
const childEnv = "SPOOL_TEST_CHILD"

func TestMain(m *testing.M) {
	switch os.Getenv(childEnv) {
	case "":
	case "lock":
		lockChild()
		os.Exit(0)
	case "crash":
		crashChild()
		os.Exit(0)
	default:
		fmt.Fprintf(os.Stderr, "unknown %s=%q\n", childEnv, os.Getenv(childEnv))
		os.Exit(2)
	}
	goleak.VerifyTestMain(m)
}

// quietLogger keeps expected recovery warnings out of test output.
var quietLogger = slog.New(slog.NewTextHandler(io.Discard, nil))

// openTest opens a Disk in dir, closed when the test ends.
func openTest(t testing.TB, dir string, opts DiskOptions) *Disk {
	t.Helper()
	if opts.Logger == nil {
		opts.Logger = quietLogger
	}
	d, err := OpenDisk(dir, opts)
	if err != nil {
		t.Fatalf("OpenDisk(%s): %v", dir, err)
	}
	t.Cleanup(func() { d.Close() })
	return d
}

// rec is the i-th test record; its value says i.
func rec(i int) event.Record {
	return event.Record{Topic: "t", Key: []byte("k"), Value: []byte("v" + strconv.Itoa(i))}
}

func recIndex(t testing.TB, e Entry) int {
	t.Helper()
	i, err := strconv.Atoi(strings.TrimPrefix(string(e.Value), "v"))
	if err != nil {
		t.Fatalf("entry %d: value %q was not made by rec", e.Seq, e.Value)
	}
	return i
}

func appendRange(t testing.TB, q Queue, from, to int) {
	t.Helper()
	for i := from; i < to; i++ {
		if err := q.Append(context.Background(), rec(i)); err != nil {
			t.Fatalf("Append(rec(%d)): %v", i, err)
		}
	}
}

// queued returns the indexes of every queued record, oldest first.
func queued(t testing.TB, q Queue) []int {
	t.Helper()
	es, err := q.Peek(context.Background(), 1<<20)
	if err != nil {
		t.Fatalf("Peek: %v", err)
	}
	return indexesOf(t, es)
}

// indexesOf returns the indexes of the records of es.
func indexesOf(t testing.TB, es []Entry) []int {
	t.Helper()
	out := make([]int, len(es))
	for i, e := range es {
		out[i] = recIndex(t, e)
	}
	return out
}

// ints returns [from, to) without the listed exceptions.
func ints(from, to int, except ...int) []int {
	out := []int{}
next:
	for i := from; i < to; i++ {
		for _, x := range except {
			if i == x {
				continue next
			}
		}
		out = append(out, i)
	}
	return out
}

func equalInts(a, b []int) bool { return fmt.Sprint(a) == fmt.Sprint(b) }
