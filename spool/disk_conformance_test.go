package spool_test

import (
	"io"
	"log/slog"
	"testing"

	"github.com/huleedu/huleedu/event"
	"github.com/huleedu/huleedu/spool"
	"github.com/huleedu/huleedu/spool/spooltest"
)

func TestDiskKeepsTheQueueContract(t *testing.T) {
	spooltest.TestQueue(t, openDiskForSuite)
}

func TestDiskKeepsTheReadAheadContract(t *testing.T) {
	spooltest.TestReadAhead(t, openDiskForSuite)
}

func openDiskForSuite(t *testing.T, cfg spooltest.Config) spool.Queue {
	d, err := spool.OpenDisk(t.TempDir(), spool.DiskOptions{
		MaxBytes: cfg.MaxBytes(func(r event.Record) int64 { return spool.FrameSize(&r) }),
		Overflow: cfg.Overflow,
		// Small segments, so the suites also cross segment boundaries.
		SegmentBytes: spool.MinSegmentBytes,
		Logger:       slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	return d
}
