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
