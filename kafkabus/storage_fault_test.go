package kafkabus

import (
	"context"
	"errors"
	"io/fs"
	"slices"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/huleedu/huleedu/spool"
)

// faultFS is the operating system's file system with switchable failures:
// writes fail with ENOSPC (disk full) or fsyncs with EIO.
type faultFS struct {
	spool.FS
	diskFull, syncFails atomic.Bool
}

func (f *faultFS) OpenFile(name string, flag int, perm fs.FileMode) (spool.File, error) {
	file, err := f.FS.OpenFile(name, flag, perm)
	if err != nil {
		return nil, err
	}
	return &faultFile{File: file, fs: f}, nil
}

type faultFile struct {
	spool.File
	fs *faultFS
}

func (f *faultFile) Write(p []byte) (int, error) {
	if f.fs.diskFull.Load() {
		return 0, syscall.ENOSPC
	}
	return f.File.Write(p)
}

func (f *faultFile) Sync() error {
	if f.fs.syncFails.Load() {
		return syscall.EIO
	}
	return f.File.Sync()
}

// When the disk spool cannot store a record, Publish says so: the caller
// keeps the record, and what was accepted before is still delivered.
func TestSpoolStorageFailureIsAnErrorAndLosesNothingAccepted(t *testing.T) {
	for _, c := range []struct {
		name  string
		fault func(*faultFS) *atomic.Bool
		errno error
	}{
		{"disk full", func(f *faultFS) *atomic.Bool { return &f.diskFull }, syscall.ENOSPC},
		{"fsync fails", func(f *faultFS) *atomic.Bool { return &f.syncFails }, syscall.EIO},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			ffs := &faultFS{FS: spool.OSFS}
			q, err := spool.OpenDisk(dir, spool.DiskOptions{FS: ffs})
			if err != nil {
				t.Fatal(err)
			}
			h := newHarness(t, q)
			h.openBreaker(t, "a")
			h.publish(t, "k", "b")

			c.fault(ffs).Store(true)
			err = h.bus.PublishRecord(context.Background(), rec("k", "c"))
			if err == nil || !errors.Is(err, spool.ErrFailed) || !errors.Is(err, c.errno) {
				t.Fatalf("publish with a failing disk = %v, want spool.ErrFailed wrapping %v", err, c.errno)
			}
			c.fault(ffs).Store(false)

			// The spool refuses appends until it is reopened, but drains.
			h.prod.setDown(false)
			h.clock.Advance(31 * time.Second)
			eventually(t, "drain", func() bool { return h.bus.Stats().Queue.Records == 0 })
			if got := h.prod.delivered(); !slices.Equal(got, []string{"a", "b"}) {
				t.Fatalf("delivered %v, want the accepted [a b] and not the refused c", got)
			}
		})
	}
}

// Close with a disk spool leaves what it could not deliver on disk and
// says nothing is lost (nil); the next bus on that spool replays it before
// any record published after the restart.
func TestRestartOnDiskSpoolReplaysLeftoversBeforeNewRecords(t *testing.T) {
	dir := t.TempDir()
	q, err := spool.OpenDisk(dir, spool.DiskOptions{})
	if err != nil {
		t.Fatal(err)
	}
	first := newHarness(t, q)
	first.openBreaker(t, "a")
	first.publish(t, "k", "b")
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if err := first.bus.Close(ctx); err != nil {
		t.Fatalf("Close with records left in the disk spool = %v, want nil", err)
	}
	if got := first.prod.delivered(); len(got) != 0 {
		t.Fatalf("delivered %v during the outage", got)
	}

	q2, err := spool.OpenDisk(dir, spool.DiskOptions{})
	if err != nil {
		t.Fatal(err)
	}
	second := newHarness(t, q2)
	hold := make(chan struct{}) // hold the replay until "c" is published
	second.prod.mu.Lock()
	second.prod.block = hold
	second.prod.mu.Unlock()
	published := make(chan error, 1)
	go func() { published <- second.bus.PublishRecord(context.Background(), rec("k", "c")) }()
	select {
	case err := <-published:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		close(hold)
		t.Fatal(`"c" waited on Kafka: it went straight to Kafka instead of queueing behind the leftovers`)
	}
	if st := second.bus.Stats(); st.Spooled != 1 || st.Published != 0 {
		t.Fatalf("stats %+v: want c spooled behind the leftovers, nothing published directly", st)
	}
	close(hold)
	eventually(t, "drain", func() bool { return second.bus.Stats().Queue.Records == 0 })
	if got := second.prod.delivered(); !slices.Equal(got, []string{"a", "b", "c"}) {
		t.Fatalf("delivered %v after the restart, want [a b c]: leftovers first", got)
	}
}
