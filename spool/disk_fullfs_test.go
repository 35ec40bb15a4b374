package spool

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
)

// mountTmpfs mounts a tmpfs of size bytes on a new directory and unmounts
// it when the test ends (after the cleanups registered later, such as
// closing a spool in it). It skips the test where mounting is not
// permitted.
func mountTmpfs(t *testing.T, size int) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "tmpfs")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, "size="+strconv.Itoa(size)); err != nil {
		t.Skipf("cannot mount a tmpfs (%v): this test needs a real file system it can fill, which takes root (CAP_SYS_ADMIN)", err)
	}
	t.Cleanup(func() {
		if err := syscall.Unmount(dir, 0); err != nil {
			t.Errorf("unmount %s: %v", dir, err)
		}
	})
	return dir
}

// fill writes a file in dir until the file system is full.
func fill(t *testing.T, dir string) string {
	t.Helper()
	path := filepath.Join(dir, "filler")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	page := make([]byte, 4096)
	for {
		if _, err := f.Write(page); err != nil {
			if !errors.Is(err, syscall.ENOSPC) {
				t.Fatalf("filling %s: %v", dir, err)
			}
			return path
		}
	}
}

// On a real file system that fills up, appends fail with ErrFailed
// wrapping ENOSPC and are refused while it stays full; once space is
// freed (here by draining the spool and removing a filler file), a probe
// finds the storage working and appends are accepted again, without
// reopening. Nothing accepted is lost, and the spool reopens clean.
func TestFullFileSystemFailsAppendsThenAcceptsThemAgainWithoutReopening(t *testing.T) {
	dir := mountTmpfs(t, 1<<20)
	pt := &probeTimer{}
	d := openTest(t, dir, DiskOptions{SegmentBytes: 128 << 10, AfterFunc: pt.afterFunc})
	value := make([]byte, 1000)
	var accepted []int
	var err error
	for i := 0; ; i++ {
		r := rec(i)
		r.Key = value
		if err = d.Append(context.Background(), r); err != nil {
			break
		}
		accepted = append(accepted, i)
	}
	if !errors.Is(err, ErrFailed) || !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("Append on a full file system = %v, want ErrFailed wrapping ENOSPC", err)
	}
	if len(accepted) < 100 {
		t.Fatalf("only %d records fitted in 1 MiB", len(accepted))
	}
	filler := fill(t, dir) // whatever the failed group's cut-back gave back
	pt.fire(t)
	if d.Stats().Failed == nil {
		t.Fatal("a probe of the full file system succeeded")
	}
	if err := d.Append(context.Background(), rec(-1)); !errors.Is(err, ErrFailed) {
		t.Fatalf("Append while full = %v, want ErrFailed", err)
	}

	// Free the space: drain the spool (its segments are removed) and drop
	// the filler.
	es, err := d.Peek(context.Background(), len(accepted)+1)
	if err != nil || len(es) != len(accepted) {
		t.Fatalf("Peek of the full spool = %d entries, %v; want the %d accepted", len(es), err, len(accepted))
	}
	for i, e := range es {
		if recIndex(t, e) != accepted[i] {
			t.Fatalf("entry %d is record %d, want %d", i, recIndex(t, e), accepted[i])
		}
	}
	if err := d.Ack(es[len(es)-1].Seq); err != nil {
		t.Fatalf("Ack on the full file system: %v", err)
	}
	waitFor(t, "the acknowledged segments to be removed", func() bool { return len(segmentPaths(t, dir)) == 0 })
	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	pt.fire(t)
	if f := d.Stats().Failed; f != nil {
		t.Fatalf("still failed after space was freed: %+v", f)
	}
	for i := range 100 {
		r := rec(10_000 + i)
		r.Key = value
		if err := d.Append(context.Background(), r); err != nil {
			t.Fatalf("Append %d after space was freed: %v", i, err)
		}
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	d2 := openTest(t, dir, DiskOptions{SegmentBytes: 128 << 10})
	if got := queued(t, d2); !equalInts(got, ints(10_000, 10_100)) {
		t.Fatalf("queued after reopening = %v, want the 100 appended after the recovery", got)
	}
	if s := d2.Stats(); s.Quarantined != 0 || s.Failed != nil {
		t.Fatalf("reopened spool: %+v, want no damage", s)
	}
}
