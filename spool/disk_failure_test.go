package spool

import (
	"context"
	"errors"
	"io"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/huleedu/huleedu/event"
)

// probeTimer stands in for DiskOptions.AfterFunc: it keeps the probe
// scheduled last and runs it only when the test calls fire.
type probeTimer struct {
	mu    sync.Mutex
	waits []time.Duration // every wait scheduled, in order
	f     func()          // the scheduled probe, nil when none
	gen   int             // counts schedules, so a stale stop cancels nothing
}

func (p *probeTimer) afterFunc(d time.Duration, f func()) func() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.waits = append(p.waits, d)
	p.f = f
	p.gen++
	gen := p.gen
	return func() bool {
		p.mu.Lock()
		defer p.mu.Unlock()
		if p.f == nil || p.gen != gen {
			return false
		}
		p.f = nil
		return true
	}
}

// fire runs the scheduled probe, in the test's goroutine: when it returns
// the probe is done.
func (p *probeTimer) fire(t *testing.T) {
	t.Helper()
	p.mu.Lock()
	f := p.f
	p.f = nil
	p.mu.Unlock()
	if f == nil {
		t.Fatal("no probe scheduled")
	}
	f()
}

func (p *probeTimer) scheduled() []time.Duration {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]time.Duration(nil), p.waits...)
}

func (p *probeTimer) pending() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.f != nil
}

// testClock is a settable DiskOptions.Now.
type testClock struct {
	mu  sync.Mutex
	now time.Time
}

func newTestClock() *testClock { return &testClock{now: time.Unix(1_700_000_000, 0)} }

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *testClock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// failing reports whether name is a file whose writes a fault hits: the
// segments and the probe file, as a full disk or a broken one would.
func failing(name string) bool { return isSegment(name) || name == probeFileName }

func TestFailedSpoolAcceptsAppendsAgainOnceAProbeFindsTheStorageWorking(t *testing.T) {
	tests := []struct {
		name  string
		fault func(*faultFS)
		want  error // also wrapped by the Append error, besides ErrFailed
	}{{
		name: "disk full half-way through a write",
		fault: func(f *faultFS) {
			f.setWrite(func(name string, b []byte) (int, error, bool) {
				return len(b) / 2, syscall.ENOSPC, failing(name)
			})
		},
		want: syscall.ENOSPC,
	}, {
		name: "short write without an error",
		fault: func(f *faultFS) {
			f.setWrite(func(name string, b []byte) (int, error, bool) { return len(b) - 1, nil, failing(name) })
		},
		want: io.ErrShortWrite,
	}, {
		name: "fsync fails with EIO",
		fault: func(f *faultFS) {
			f.setSync(func(name string) error {
				if failing(name) {
					return syscall.EIO
				}
				return nil
			})
		},
		want: syscall.EIO,
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			ffs := newFaultFS()
			pt := &probeTimer{}
			clock := newTestClock()
			d := openTest(t, dir, DiskOptions{FS: ffs, SegmentBytes: MinSegmentBytes, AfterFunc: pt.afterFunc, Now: clock.Now})
			appendRange(t, d, 0, 200) // two segments

			tt.fault(ffs)
			err := d.Append(context.Background(), rec(200), rec(201))
			if !errors.Is(err, ErrFailed) || !errors.Is(err, tt.want) {
				t.Fatalf("Append during the fault = %v, want ErrFailed and %v", err, tt.want)
			}
			f := d.Stats().Failed
			if f == nil || !strings.Contains(f.Cause, tt.want.Error()) || !f.Since.Equal(clock.Now()) ||
				!f.NextProbe.Equal(clock.Now().Add(minProbeWait)) || f.Probes != 0 {
				t.Fatalf("Stats().Failed = %+v, want the cause %q since now, the next probe in %s", f, tt.want, minProbeWait)
			}
			if err := d.Append(context.Background(), rec(202)); !errors.Is(err, ErrFailed) {
				t.Fatalf("Append while failed = %v, want ErrFailed", err)
			}

			// What was accepted before stays readable and drainable.
			if got := queued(t, d); !equalInts(got, ints(0, 200)) {
				t.Fatalf("queued after the fault = %v", got)
			}
			es, _ := d.Peek(context.Background(), 10)
			if err := d.Ack(es[9].Seq); err != nil {
				t.Fatalf("Ack after the fault: %v", err)
			}

			pt.fire(t) // the fault is still there
			if f := d.Stats().Failed; f == nil || f.Probes != 1 {
				t.Fatalf("Stats().Failed = %+v after a probe into the fault, want still failed, 1 probe", f)
			}
			if err := d.Append(context.Background(), rec(203)); !errors.Is(err, ErrFailed) {
				t.Fatalf("Append after a failed probe = %v, want ErrFailed", err)
			}

			ffs.setWrite(nil)
			ffs.setSync(nil)
			pt.fire(t)
			if f := d.Stats().Failed; f != nil {
				t.Fatalf("Stats().Failed = %+v after a probe of working storage, want nil", f)
			}
			if pt.pending() {
				t.Fatal("a probe is still scheduled after the storage recovered")
			}
			if err := d.Append(context.Background(), rec(204)); err != nil {
				t.Fatalf("Append after the storage recovered: %v", err)
			}
			want := append(ints(10, 200), 204)
			if got := queued(t, d); !equalInts(got, want) {
				t.Fatalf("queued after recovering = %v, want %v", got, want)
			}
			if err := d.Close(); err != nil {
				t.Fatal(err)
			}

			d2 := openTest(t, dir, DiskOptions{SegmentBytes: MinSegmentBytes})
			if got := queued(t, d2); !equalInts(got, want) {
				t.Fatalf("queued after reopening = %v, want %v (the failed append cut off)", got, want)
			}
			if s := d2.Stats(); s.Quarantined != 0 || s.MissingRecords != 0 {
				t.Fatalf("reopen quarantined %d ranges and found %d records missing: the failed write was not cut off cleanly", s.Quarantined, s.MissingRecords)
			}
		})
	}
}

func TestProbesBackOffUpToProbeInterval(t *testing.T) {
	ffs := newFaultFS()
	pt := &probeTimer{}
	clock := newTestClock()
	d := openTest(t, t.TempDir(), DiskOptions{FS: ffs, AfterFunc: pt.afterFunc, Now: clock.Now, ProbeInterval: 300 * time.Millisecond})
	full := func(name string, b []byte) (int, error, bool) { return 0, syscall.ENOSPC, failing(name) }
	ffs.setWrite(full)
	if err := d.Append(context.Background(), rec(0)); !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("Append on a full disk = %v", err)
	}
	for range 4 {
		pt.fire(t)
	}
	ms := time.Millisecond
	if got, want := pt.scheduled(), []time.Duration{50 * ms, 100 * ms, 200 * ms, 300 * ms, 300 * ms}; !equalDurations(got, want) {
		t.Fatalf("probe waits %v, want %v", got, want)
	}
	if f := d.Stats().Failed; f == nil || f.Probes != 4 || !f.NextProbe.Equal(clock.Now().Add(300*ms)) {
		t.Fatalf("Stats().Failed = %+v, want 4 failed probes and the next in 300ms", f)
	}

	// Recovered, then full again at once: the backoff goes on from where
	// it ended instead of probing every 50 ms again.
	ffs.setWrite(nil)
	pt.fire(t)
	clock.advance(100 * ms)
	ffs.setWrite(full)
	if err := d.Append(context.Background(), rec(1)); !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("Append on a full disk = %v", err)
	}
	if got := pt.scheduled(); got[len(got)-1] != 300*ms {
		t.Fatalf("first wait of a failure right after a recovery = %s, want 300ms", got[len(got)-1])
	}

	// A failure long after the last one starts over.
	ffs.setWrite(nil)
	pt.fire(t)
	clock.advance(time.Second)
	ffs.setWrite(full)
	if err := d.Append(context.Background(), rec(2)); !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("Append on a full disk = %v", err)
	}
	if got := pt.scheduled(); got[len(got)-1] != minProbeWait {
		t.Fatalf("first wait of a failure a second after the last = %s, want %s", got[len(got)-1], minProbeWait)
	}
}

func equalDurations(a, b []time.Duration) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// A failed group whose cut-back fails too leaves a half-written record at
// the end of the segment. Appends stay refused until a probe has cut it
// off: no record is ever written after it, and the spool reopens clean.
func TestHalfWrittenGroupIsCutOffBeforeAppendsResume(t *testing.T) {
	dir := t.TempDir()
	ffs := newFaultFS()
	pt := &probeTimer{}
	d := openTest(t, dir, DiskOptions{FS: ffs, AfterFunc: pt.afterFunc})
	appendRange(t, d, 0, 10)
	seg := segmentPaths(t, dir)[0]
	committed := fileSize(t, seg)

	ffs.setWrite(func(name string, b []byte) (int, error, bool) { return len(b) / 2, syscall.ENOSPC, isSegment(name) })
	cutFails := func(name string) error {
		if isSegment(name) {
			return syscall.EIO
		}
		return nil
	}
	ffs.setTruncate(cutFails)
	if err := d.Append(context.Background(), rec(10)); !errors.Is(err, ErrFailed) {
		t.Fatalf("Append during the fault = %v", err)
	}
	if size := fileSize(t, seg); size <= committed {
		t.Fatalf("segment is %d bytes after a failed cut-back, want more than %d: the test needs the half-written record", size, committed)
	}
	ffs.setWrite(nil)
	pt.fire(t) // the cut-back still fails: the storage does not count as working
	if d.Stats().Failed == nil {
		t.Fatal("a probe accepted appends again while the half-written record was still there")
	}
	ffs.setTruncate(nil)
	pt.fire(t)
	if f := d.Stats().Failed; f != nil {
		t.Fatalf("still failed after the cut-back succeeded: %+v", f)
	}
	if size := fileSize(t, seg); size != committed {
		t.Fatalf("segment is %d bytes after recovering, want its committed %d", size, committed)
	}
	appendRange(t, d, 11, 12)
	d.Close()
	d2 := openTest(t, dir, DiskOptions{})
	if got := queued(t, d2); !equalInts(got, append(ints(0, 10), 11)) {
		t.Fatalf("queued after reopening = %v", got)
	}
	if q := d2.Stats().Quarantined; q != 0 {
		t.Fatalf("reopen quarantined %d ranges: a record was written after the half-written one", q)
	}
}

// A group that failed in a segment it created, which then could not be
// removed: a probe removes it before appends go on, so the next append can
// create it afresh.
func TestSegmentOfAFailedGroupIsRemovedBeforeAppendsResume(t *testing.T) {
	dir := t.TempDir()
	ffs := newFaultFS()
	pt := &probeTimer{}
	d := openTest(t, dir, DiskOptions{FS: ffs, SegmentBytes: MinSegmentBytes, AfterFunc: pt.afterFunc})
	appendRange(t, d, 0, 100) // the first segment nearly full
	first := filepath.Base(segmentPaths(t, dir)[0])
	ffs.setWrite(func(name string, b []byte) (int, error, bool) {
		return 0, syscall.ENOSPC, isSegment(name) && name != first
	})
	ffs.setRemoveErr(func(name string) error {
		if isSegment(name) {
			return syscall.EIO
		}
		return nil
	})
	recs := make([]int, 60)
	for i := range recs {
		recs[i] = 100 + i
	}
	if err := d.Append(context.Background(), records(recs)...); !errors.Is(err, ErrFailed) {
		t.Fatalf("Append spilling into a new segment during the fault = %v", err)
	}
	if n := len(segmentPaths(t, dir)); n != 2 {
		t.Fatalf("%d segment files, want the new one left behind by the failed removal", n)
	}
	ffs.setWrite(nil)
	pt.fire(t)
	if d.Stats().Failed == nil {
		t.Fatal("appends accepted again while the failed group's segment was still there")
	}
	ffs.setRemoveErr(nil)
	pt.fire(t)
	if f := d.Stats().Failed; f != nil {
		t.Fatalf("still failed after the segment was removed: %+v", f)
	}
	if err := d.Append(context.Background(), records(recs)...); err != nil {
		t.Fatalf("Append after recovering: %v", err)
	}
	d.Close()
	d2 := openTest(t, dir, DiskOptions{SegmentBytes: MinSegmentBytes})
	if got := queued(t, d2); !equalInts(got, ints(0, 160)) {
		t.Fatalf("queued after reopening = %v", got)
	}
	if q := d2.Stats().Quarantined; q != 0 {
		t.Fatalf("reopen quarantined %d ranges", q)
	}
}

// Close of a failed spool cancels the probe it scheduled; with the real
// timer nothing is left running (goleak checks in TestMain).
func TestCloseOfAFailedSpoolCancelsItsProbe(t *testing.T) {
	for _, fake := range []bool{true, false} {
		ffs := newFaultFS()
		pt := &probeTimer{}
		opts := DiskOptions{FS: ffs, ProbeInterval: time.Hour, Logger: quietLogger}
		if fake {
			opts.AfterFunc = pt.afterFunc
		}
		d, err := OpenDisk(t.TempDir(), opts)
		if err != nil {
			t.Fatal(err)
		}
		ffs.setSync(func(name string) error {
			if failing(name) {
				return syscall.EIO
			}
			return nil
		})
		if err := d.Append(context.Background(), rec(0)); !errors.Is(err, ErrFailed) {
			t.Fatalf("Append = %v", err)
		}
		if err := d.Close(); err != nil {
			t.Fatal(err)
		}
		if fake && pt.pending() {
			t.Fatal("Close left the probe scheduled")
		}
	}
}

func records(idx []int) []event.Record {
	out := make([]event.Record, len(idx))
	for i, x := range idx {
		out[i] = rec(x)
	}
	return out
}

// A group that fails while Close waits for it to be committed schedules no
// probe that Close would wait for.
func TestGroupFailingDuringCloseSchedulesNoProbe(t *testing.T) {
	ffs := newFaultFS()
	pt := &probeTimer{}
	d, err := OpenDisk(t.TempDir(), DiskOptions{FS: ffs, AfterFunc: pt.afterFunc, Logger: quietLogger})
	if err != nil {
		t.Fatal(err)
	}
	entered, gate := make(chan struct{}), make(chan struct{})
	ffs.setSync(func(name string) error {
		if !isSegment(name) {
			return nil
		}
		close(entered)
		<-gate
		return syscall.EIO
	})
	appended := make(chan error, 1)
	go func() { appended <- d.Append(context.Background(), rec(0)) }()
	<-entered
	closed := make(chan error, 1)
	go func() { closed <- d.Close() }()
	waitFor(t, "Close to wait for the commit", func() bool { return d.w.isClosed() })
	ffs.setSync(nil)
	close(gate)
	if err := <-appended; !errors.Is(err, ErrFailed) {
		t.Fatalf("Append = %v, want ErrFailed", err)
	}
	if err := <-closed; err != nil {
		t.Fatalf("Close: %v", err)
	}
	if pt.pending() {
		t.Fatal("a probe was scheduled after Close")
	}
}
