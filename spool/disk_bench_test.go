package spool

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/huleedu/huleedu/event"
)

// benchRecord is a 1 KiB record.
func benchRecord(i int) event.Record {
	v := make([]byte, 1024-40)
	copy(v, fmt.Sprint(i))
	return event.Record{Topic: "essay.events", Key: fmt.Appendf(nil, "essay-%d", i%1000), Value: v}
}

// BenchmarkAppend measures append throughput with concurrent publishers
// against a raw loop that writes and fsyncs, to a plain file, as many
// bytes per fsync as the spool's group commits averaged: the ceiling for
// that batch size on this disk. The two alternate in ten rounds, so load
// from other processes on a shared machine hits both alike. x-raw is the
// ratio of their rates.
func BenchmarkAppend(b *testing.B) {
	for _, pubs := range []int{1, 8, 64} {
		b.Run(fmt.Sprintf("publishers=%d", pubs), func(b *testing.B) {
			d := openTest(b, b.TempDir(), DiskOptions{MaxBytes: 16 << 30})
			raw, err := os.Create(filepath.Join(b.TempDir(), "raw"))
			if err != nil {
				b.Fatal(err)
			}
			defer raw.Close()
			r := benchRecord(0)
			frame := FrameSize(&r)
			b.SetBytes(frame)
			const rounds = 10
			var spoolTime, rawTime time.Duration
			var rawRecords int
			var commits uint64
			b.ResetTimer()
			for round := range rounds {
				n := b.N / rounds
				if round < b.N%rounds {
					n++
				}
				if n == 0 {
					continue
				}
				d.w.mu.Lock()
				before := d.w.commits
				d.w.mu.Unlock()
				start := time.Now()
				appendConcurrently(b, d, r, pubs, n)
				spoolTime += time.Since(start)
				d.w.mu.Lock()
				groups := d.w.commits - before
				d.w.mu.Unlock()
				commits += groups

				b.StopTimer()
				perGroup := max(1, n/int(groups))
				batches := max(1, min(int(groups), 200))
				rawTime += rawWriteFsync(b, raw, perGroup*int(frame), batches)
				rawRecords += batches * perGroup
				b.StartTimer()
			}
			b.StopTimer()
			rate := float64(b.N) / spoolTime.Seconds()
			rawRate := float64(rawRecords) / rawTime.Seconds()
			b.ReportMetric(rate, "rec/s")
			b.ReportMetric(float64(b.N)/float64(commits), "rec/fsync")
			b.ReportMetric(rawRate, "raw-rec/s")
			b.ReportMetric(rate/rawRate, "x-raw")
		})
	}
}

// appendConcurrently appends r n times from pubs goroutines.
func appendConcurrently(b *testing.B, d *Disk, r event.Record, pubs, n int) {
	var next atomic.Int64
	var wg sync.WaitGroup
	for range pubs {
		wg.Go(func() {
			for next.Add(1) <= int64(n) {
				if err := d.Append(context.Background(), r); err != nil {
					b.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
}

// rawWriteFsync appends batches of size bytes to f, fsyncing after each.
func rawWriteFsync(b *testing.B, f *os.File, size, batches int) time.Duration {
	buf := make([]byte, size)
	start := time.Now()
	for range batches {
		if _, err := f.Write(buf); err != nil {
			b.Fatal(err)
		}
		if err := f.Sync(); err != nil {
			b.Fatal(err)
		}
	}
	return time.Since(start)
}

// BenchmarkAppendLatencyIdle appends one record every 2 ms, so every
// append finds no group commit in progress, and reports the latency
// percentiles of Append next to those of a bare write+fsync of the same
// frame.
func BenchmarkAppendLatencyIdle(b *testing.B) {
	d := openTest(b, b.TempDir(), DiskOptions{MaxBytes: 16 << 30})
	r := benchRecord(0)
	tick := time.NewTicker(2 * time.Millisecond)
	defer tick.Stop()
	lat := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := range b.N {
		<-tick.C
		start := time.Now()
		if err := d.Append(context.Background(), benchRecord(i)); err != nil {
			b.Fatal(err)
		}
		lat = append(lat, time.Since(start))
	}
	b.StopTimer()

	f, err := os.Create(filepath.Join(b.TempDir(), "raw"))
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	buf := appendRecordFrame(nil, 1, 0, &r)
	raw := make([]time.Duration, 0, min(b.N, 1000))
	for range cap(raw) {
		<-tick.C
		start := time.Now()
		f.Write(buf)
		f.Sync()
		raw = append(raw, time.Since(start))
	}
	b.ReportMetric(micros(percentile(lat, 50)), "p50-µs")
	b.ReportMetric(micros(percentile(lat, 99)), "p99-µs")
	b.ReportMetric(micros(percentile(raw, 50)), "raw-p50-µs")
	b.ReportMetric(micros(percentile(raw, 99)), "raw-p99-µs")
}

func percentile(d []time.Duration, p int) time.Duration {
	if len(d) == 0 {
		return 0
	}
	s := slices.Clone(d)
	slices.Sort(s)
	return s[min(len(s)-1, len(s)*p/100)]
}

func micros(d time.Duration) float64 { return float64(d) / float64(time.Microsecond) }

// BenchmarkDrain measures the drainer's side: Peek 256 entries, Ack them
// (one head-file write), repeat, over a backlog of 1 KiB records.
func BenchmarkDrain(b *testing.B) {
	d := openTest(b, b.TempDir(), DiskOptions{MaxBytes: 16 << 30})
	recs := make([]event.Record, 1000)
	for i := 0; i < b.N; i += len(recs) {
		n := min(len(recs), b.N-i)
		for j := range n {
			recs[j] = benchRecord(i + j)
		}
		if err := d.Append(context.Background(), recs[:n]...); err != nil {
			b.Fatal(err)
		}
	}
	r := benchRecord(0)
	b.SetBytes(FrameSize(&r))
	b.ResetTimer()
	start := time.Now()
	drained, acks := 0, 0
	for drained < b.N {
		es, err := d.Peek(context.Background(), 256)
		if err != nil {
			b.Fatal(err)
		}
		if err := d.Ack(es[len(es)-1].Seq); err != nil {
			b.Fatal(err)
		}
		drained += len(es)
		acks++
	}
	elapsed := time.Since(start)
	b.StopTimer()
	b.ReportMetric(float64(drained)/elapsed.Seconds(), "rec/s")
	b.ReportMetric(micros(elapsed)/float64(acks), "µs/batch")
}
