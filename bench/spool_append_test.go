package bench

import (
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/huleedu/huleedu/spool"
)

// spoolRound is the number of records per round of BenchmarkSpoolAppend.
const spoolRound = 20_000

// BenchmarkSpoolAppend compares the disk spool's append throughput, with
// concurrent publishers sharing group commits, to the floor any durable
// log pays: a raw loop that writes the same bytes and fsyncs, one batch at
// a time, with the batch size (records per fsync) the spool achieved in the
// same round. One iteration is one 1 KiB record on each side; rounds
// alternate (see interleave).
//
// spool: publishers goroutines call Disk.Append with one record each;
// fsyncs are counted through the spool's FS seam. After each round the
// records are acknowledged (not timed), so the spool stays small. raw:
// sequential os.File Write of a batch of frames' bytes, then Sync, on the
// same file system; no framing work, no CRC, no lock.
func BenchmarkSpoolAppend(b *testing.B) {
	ctx := context.Background()
	fsys := &syncCountingFS{FS: spool.OSFS}
	d := openDisk(b, spoolBytes(spoolRound)+1<<20, fsys)
	b.Cleanup(func() {
		if err := d.Close(); err != nil {
			b.Error(err)
		}
	})
	// The first append creates the segment file; keep it out.
	if err := d.Append(ctx, benchRecord(0)); err != nil {
		b.Fatal(err)
	}
	head, err := d.Peek(ctx, 1)
	if err != nil || len(head) != 1 {
		b.Fatalf("peek after the first append: %v, %d entries", err, len(head))
	}
	acked := head[0].Seq // the Seq of the last record appended so far

	rec := benchRecord(0)
	frame := int(spool.FrameSize(&rec))
	raw, err := os.OpenFile(filepath.Join(b.TempDir(), "raw.log"), os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
	if err != nil {
		b.Fatal(err)
	}
	defer raw.Close()
	buf := make([]byte, spoolRound*frame)
	for i := range buf {
		buf[i] = byte(i)
	}

	batch := 0 // records per fsync of the spool's last round
	var records, syncs int64
	b.ResetTimer()
	interleave(b, b.N, spoolRound,
		side{"spool", func(n int) time.Duration {
			before := fsys.syncs.Load()
			elapsed := publishConcurrently(b, n, publishers, func(i int) error {
				return d.Append(ctx, benchRecord(i))
			})
			b.StopTimer()
			s := fsys.syncs.Load() - before
			records, syncs = records+int64(n), syncs+s
			batch = max(int(float64(n)/float64(max(s, 1))+0.5), 1)
			acked += uint64(n)
			if err := d.Ack(acked); err != nil {
				b.Fatal(err)
			}
			b.StartTimer()
			return elapsed
		}},
		side{"raw", func(n int) time.Duration {
			if batch == 0 { // raw goes first in odd rounds only
				b.Fatal("raw round before any spool round")
			}
			b.StopTimer()
			if err := raw.Truncate(0); err != nil {
				b.Fatal(err)
			}
			b.StartTimer()
			start := time.Now()
			for done := 0; done < n; done += batch {
				k := min(batch, n-done)
				if _, err := raw.WriteAt(buf[:k*frame], int64(done*frame)); err != nil {
					b.Fatal(err)
				}
				if err := raw.Sync(); err != nil {
					b.Fatal(err)
				}
			}
			return time.Since(start)
		}})
	b.ReportMetric(float64(records)/float64(max(syncs, 1)), "records/fsync")
}

// syncCountingFS counts the fsyncs of the files the spool opens.
type syncCountingFS struct {
	spool.FS
	syncs atomic.Int64
}

func (c *syncCountingFS) OpenFile(name string, flag int, perm fs.FileMode) (spool.File, error) {
	f, err := c.FS.OpenFile(name, flag, perm)
	if err != nil {
		return nil, err
	}
	return &syncCountingFile{File: f, syncs: &c.syncs}, nil
}

type syncCountingFile struct {
	spool.File
	syncs *atomic.Int64
}

func (f *syncCountingFile) Sync() error {
	f.syncs.Add(1)
	return f.File.Sync()
}

// BenchmarkFsyncLatency is context for the open-circuit disk latencies: the
// latency of one write of a 1 KiB record's frame plus fsync on the disk the
// spool uses, sequentially, no other work. No spool can accept a record
// faster than this. Its p99 flatters the disk: a sequential loop is one
// sample late during a stall of the disk, whereas at a paced 10k records/s
// every record arriving during the stall waits for it (a 20ms stall delays
// 200 records). So read its max next to the open-circuit p99.
func BenchmarkFsyncLatency(b *testing.B) {
	rec := benchRecord(0)
	buf := make([]byte, spool.FrameSize(&rec))
	f, err := os.OpenFile(filepath.Join(b.TempDir(), "raw.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	lat := make([]time.Duration, b.N)
	b.ResetTimer()
	for i := range b.N {
		t0 := time.Now()
		if _, err := f.Write(buf); err != nil {
			b.Fatal(err)
		}
		if err := f.Sync(); err != nil {
			b.Fatal(err)
		}
		lat[i] = time.Since(t0)
	}
	b.StopTimer()
	reportLatencies(b, lat)
}
