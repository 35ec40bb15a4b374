package spool

import (
	"context"
	"errors"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/huleedu/huleedu/internal/testwait"
)

// waitFor polls cond until it holds or a deadline passes.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	testwait.For(t, 10*time.Second, what, cond)
}

func isSegment(name string) bool { return strings.HasSuffix(name, segmentExt) }

func TestFailedFsyncFailsEveryAppendOfItsGroup(t *testing.T) {
	dir := t.TempDir()
	ffs := newFaultFS()
	d := openTest(t, dir, DiskOptions{FS: ffs})
	gate := make(chan struct{})
	entered := make(chan struct{})
	calls := 0
	ffs.setSync(func(name string) error {
		if !isSegment(name) {
			return nil
		}
		calls++ // one group commit runs at a time
		switch calls {
		case 1:
			close(entered)
			<-gate // first group: its fsync waits, then succeeds
			return nil
		default:
			return syscall.EIO
		}
	})
	first := make(chan error, 1)
	go func() { first <- d.Append(context.Background(), rec(0)) }()
	<-entered
	const group = 5
	results := make(chan error, group)
	for i := range group {
		go func() { results <- d.Append(context.Background(), rec(1+i)) }()
	}
	waitFor(t, "the second group to queue", func() bool {
		d.w.mu.Lock()
		defer d.w.mu.Unlock()
		return len(d.w.pending) == group
	})
	close(gate)
	if err := <-first; err != nil {
		t.Fatalf("first group's Append = %v", err)
	}
	for range group {
		if err := <-results; !errors.Is(err, ErrFailed) || !errors.Is(err, syscall.EIO) {
			t.Fatalf("Append of the failed group = %v, want ErrFailed wrapping EIO", err)
		}
	}
	if got := queued(t, d); !equalInts(got, []int{0}) {
		t.Fatalf("queued = %v, want only the first group's record", got)
	}
}

func TestGroupCommitSharesOneFsyncAmongConcurrentAppends(t *testing.T) {
	r := rec(10) // every record queued below has this size
	tests := []struct {
		name     string
		maxBytes int
		groups   int64 // fsyncs for the 64 appends queued behind the first
	}{
		{"all in one group", 0, 1},
		{"groups bounded by GroupCommitMaxBytes", int(4 * FrameSize(&r)), 16},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ffs := newFaultFS()
			d := openTest(t, t.TempDir(), DiskOptions{FS: ffs, GroupCommitMaxBytes: tt.maxBytes})
			gate := make(chan struct{})
			entered := make(chan struct{}, 1)
			ffs.setSync(func(name string) error {
				if isSegment(name) {
					select {
					case entered <- struct{}{}:
						<-gate
					default:
					}
				}
				return nil
			})
			done := make(chan error, 65)
			go func() { done <- d.Append(context.Background(), rec(0)) }()
			<-entered
			for i := range 64 {
				go func() { done <- d.Append(context.Background(), rec(10+i)) }()
			}
			waitFor(t, "64 appends to queue behind the first fsync", func() bool {
				d.w.mu.Lock()
				defer d.w.mu.Unlock()
				return len(d.w.pending) == 64
			})
			syncsBefore := ffs.syncs.Load()
			close(gate)
			for range 65 {
				if err := <-done; err != nil {
					t.Fatal(err)
				}
			}
			if n := ffs.syncs.Load() - syncsBefore; n != 1+tt.groups {
				t.Fatalf("%d fsyncs for the first append and 64 queued ones, want %d", n, 1+tt.groups)
			}
			if s := d.Stats(); s.Records != 65 {
				t.Fatalf("Stats().Records = %d, want 65", s.Records)
			}
		})
	}
}

func TestFailedDeadLetterWriteKeepsEntryQueued(t *testing.T) {
	dir := t.TempDir()
	ffs := newFaultFS()
	d := openTest(t, dir, DiskOptions{FS: ffs})
	appendRange(t, d, 0, 3)
	ffs.setSync(func(name string) error {
		if name == deadLetterName {
			return syscall.EIO
		}
		return nil
	})
	es, _ := d.Peek(context.Background(), 1)
	if err := d.DeadLetter(es[0], "poison"); !errors.Is(err, ErrFailed) {
		t.Fatalf("DeadLetter with a failing fsync = %v, want ErrFailed", err)
	}
	if got := queued(t, d); !equalInts(got, ints(0, 3)) {
		t.Fatalf("queued = %v, want the entry still at the head", got)
	}
	if n := d.Stats().DeadLetters; n != 0 {
		t.Fatalf("Stats().DeadLetters = %d, want 0", n)
	}
	d.Close()
	d2 := openTest(t, dir, DiskOptions{})
	if got := queued(t, d2); !equalInts(got, ints(0, 3)) {
		t.Fatalf("queued after reopening = %v", got)
	}
}

// A failed dead-letter write is cut off, and dead-lettering works again
// as soon as the storage does, without reopening.
func TestDeadLetteringWorksAgainOnceTheStorageDoes(t *testing.T) {
	dir := t.TempDir()
	ffs := newFaultFS()
	d := openTest(t, dir, DiskOptions{FS: ffs})
	appendRange(t, d, 0, 3)
	es, _ := d.Peek(context.Background(), 2)
	if err := d.DeadLetter(es[0], "poison"); err != nil { // the log exists from here on
		t.Fatal(err)
	}
	ffs.setWrite(func(name string, b []byte) (int, error, bool) {
		return len(b) / 2, syscall.ENOSPC, name == deadLetterName
	})
	if err := d.DeadLetter(es[1], "poison"); !errors.Is(err, ErrFailed) || !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("DeadLetter on a full disk = %v, want ErrFailed wrapping ENOSPC", err)
	}
	ffs.setWrite(nil)
	if err := d.DeadLetter(es[1], "poison"); err != nil {
		t.Fatalf("DeadLetter once the disk has room again: %v", err)
	}
	if got := queued(t, d); !equalInts(got, []int{2}) {
		t.Fatalf("queued = %v, want [2]", got)
	}
	d.Close()
	d2 := openTest(t, dir, DiskOptions{})
	dls, err := d2.DeadLetters()
	if err != nil {
		t.Fatal(err)
	}
	if len(dls) != 2 || recIndex(t, dls[0].Entry) != 0 || recIndex(t, dls[1].Entry) != 1 {
		t.Fatalf("dead letters after reopening: %+v, want records 0 and 1 once each", dls)
	}
	if q := d2.Stats().Quarantined; q != 0 {
		t.Fatalf("reopen quarantined %d ranges: the failed dead-letter write was not cut off", q)
	}
}

func TestFailedHeadWriteOnAckRemovesNothing(t *testing.T) {
	dir := t.TempDir()
	ffs := newFaultFS()
	d := openTest(t, dir, DiskOptions{FS: ffs})
	appendRange(t, d, 0, 5)
	ffs.setSync(func(name string) error {
		if name == headFileName {
			return syscall.EIO
		}
		return nil
	})
	es, _ := d.Peek(context.Background(), 5)
	if err := d.Ack(es[2].Seq); !errors.Is(err, syscall.EIO) {
		t.Fatalf("Ack with a failing head write = %v, want EIO", err)
	}
	if got, s := queued(t, d), d.Stats(); !equalInts(got, ints(0, 5)) || s.Records != 5 {
		t.Fatalf("after a failed Ack: queued %v, Stats %+v", got, s)
	}
	ffs.setSync(nil)
	if err := d.Ack(es[2].Seq); err != nil {
		t.Fatal(err)
	}
	if got := queued(t, d); !equalInts(got, []int{3, 4}) {
		t.Fatalf("queued = %v after a retried Ack", got)
	}
}

// A head update that fails part-way (a short write, as a full disk or an
// I/O error leaves it) leaves the slot holding the previous head intact,
// however often it fails: the retries overwrite the same, older slot.
// After the fault the head is the last one written in full.
func TestTornHeadUpdatesKeepThePreviousHead(t *testing.T) {
	dir := t.TempDir()
	ffs := newFaultFS()
	d := openTest(t, dir, DiskOptions{FS: ffs})
	appendRange(t, d, 0, 10)
	es, err := d.Peek(context.Background(), 10)
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Ack(es[2].Seq); err != nil {
		t.Fatal(err)
	}
	ffs.setWrite(func(name string, b []byte) (int, error, bool) {
		if name == headFileName {
			return len(b) / 3, syscall.EIO, true // part of the slot reaches the file
		}
		return 0, nil, false
	})
	for _, i := range []int{5, 7} {
		if err := d.Ack(es[i].Seq); !errors.Is(err, syscall.EIO) {
			t.Fatalf("Ack with a failing head write = %v, want EIO", err)
		}
	}
	ffs.setWrite(nil)
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	d2 := openTest(t, dir, DiskOptions{})
	if got := queued(t, d2); !equalInts(got, ints(3, 10)) {
		t.Fatalf("queued after reopening = %v, want 3..9: the head of the last complete update", got)
	}
}
