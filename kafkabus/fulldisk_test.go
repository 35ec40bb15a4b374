package kafkabus

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/huleedu/huleedu/spool"
)

// mountTmpfs mounts a tmpfs of size bytes on a new directory, unmounted
// when the test ends (after the cleanups registered later, such as the
// bus's Close). It skips the test where mounting is not permitted.
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

// fillFS writes a file in dir until its file system is full.
func fillFS(t *testing.T, dir string) string {
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

// The drill, on a real file system: a first outage fills the
// disk spool's file system, so publishes are refused (spool.ErrFailed
// wrapping ENOSPC) and the queue reports itself failed. Kafka comes back,
// the spool drains and gives its space back, and the spool accepts again
// without being reopened: everything published in a second outage is
// accepted, and every accepted record is delivered in order.
func TestSecondOutageIsAcceptedOnceTheDrainFreedTheFullDisk(t *testing.T) {
	dir := mountTmpfs(t, 1<<20)
	q, err := spool.OpenDisk(dir, spool.DiskOptions{
		SegmentBytes:  128 << 10,
		ProbeInterval: 20 * time.Millisecond,
		Logger:        slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	h := newHarness(t, q)
	value := string(make([]byte, 1000))
	record := func(i int) string { return fmt.Sprintf("%d%s", i, value) }

	h.openBreaker(t, record(0))
	accepted := []string{record(0)}
	var refused error
	for i := 1; refused == nil; i++ {
		v := record(i)
		if refused = h.bus.PublishRecord(context.Background(), rec("k", v)); refused == nil {
			accepted = append(accepted, v)
		}
	}
	if !errors.Is(refused, spool.ErrFailed) || !errors.Is(refused, syscall.ENOSPC) {
		t.Fatalf("publish on a full disk = %v, want spool.ErrFailed wrapping ENOSPC", refused)
	}
	filler := fillFS(t, dir) // what the failed write's cut-back gave back
	if err := h.bus.PublishRecord(context.Background(), rec("k", "refused")); !errors.Is(err, spool.ErrFailed) {
		t.Fatalf("publish while the disk is full = %v, want spool.ErrFailed", err)
	}
	if h.bus.Stats().Queue.Failed == nil {
		t.Fatal("Stats().Queue.Failed is nil while the spool refuses records")
	}

	// Kafka is back: the spool drains, and gives its segments back.
	h.prod.setDown(false)
	h.clock.Advance(31 * time.Second)
	eventually(t, "the spool to drain", func() bool { return h.bus.Stats().Queue.Records == 0 })
	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	eventually(t, "a probe to find the storage working", func() bool { return h.bus.Stats().Queue.Failed == nil })

	// The second outage: every record is accepted into the spool.
	h.prod.setDown(true)
	for i := range 100 {
		v := fmt.Sprintf("second-%d", i)
		if err := h.bus.PublishRecord(context.Background(), rec("k", v)); err != nil {
			t.Fatalf("publish %d in the second outage: %v", i, err)
		}
		accepted = append(accepted, v)
	}
	if n := h.bus.Stats().Queue.Records; n == 0 {
		t.Fatal("the second outage's records did not go to the spool")
	}
	h.prod.setDown(false)
	h.clock.Advance(31 * time.Second)
	eventually(t, "the second drain", func() bool { return h.bus.Stats().Queue.Records == 0 })
	if got := h.prod.delivered(); !slices.Equal(got, accepted) {
		t.Fatalf("delivered %d records, want the %d accepted, in order (first difference at %d)", len(got), len(accepted), firstDifference(got, accepted))
	}
}

func firstDifference(a, b []string) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}
