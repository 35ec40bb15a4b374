package bench

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// The memory benchmark: the resident set size of a publishing process while
// 1 GiB of records goes into its disk spool (Kafka unavailable) and while
// that backlog drains to Kafka. The publisher runs in a child process (this
// test binary re-executed, TestSpoolRSSChild), so that its RSS is its own:
// the kfake cluster, which keeps every record it receives in memory, stays
// in the parent.
//
// It writes 1 GiB to disk and takes a minute or more, so it runs only with
// BENCH_LARGE=1 (scripts/bench.sh passes it through).

const (
	largeEnv    = "BENCH_LARGE"
	rssChildEnv = "BENCH_RSS_CHILD_BROKERS" // set in the child: the parent's kfake addresses
	rssResult   = "SPOOLRSS "               // prefix of the child's result line
	spooledGiB  = 1 << 30                   // value bytes appended
)

// rssReport is what the child measures; sizes in MiB.
type rssReport struct {
	BaselineMiB   float64 `json:"baseline_mib"` // after set-up, before the first append
	AppendPeakMiB float64 `json:"append_peak_mib"`
	DrainPeakMiB  float64 `json:"drain_peak_mib"`
	Records       int     `json:"records"`
	SpoolMiB      float64 `json:"spool_mib"` // Stats().Bytes at the end of the append phase
	AppendSeconds float64 `json:"append_s"`
	DrainSeconds  float64 `json:"drain_s"`
}

func BenchmarkSpoolRSS(b *testing.B) {
	if os.Getenv(largeEnv) != "1" {
		b.Skipf("writes 1 GiB to disk; set %s=1 to run it", largeEnv)
	}
	addrs := newCluster(b)
	cmd := exec.Command(os.Args[0], "-test.run=^TestSpoolRSSChild$", "-test.timeout=30m", "-test.v")
	cmd.Env = append(os.Environ(), rssChildEnv+"="+strings.Join(addrs, ","))
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		b.Fatalf("child: %v\n%s\n%s", err, out, stderr.Bytes())
	}
	var rep rssReport
	found := false
	for line := range strings.Lines(string(out)) {
		if s, ok := strings.CutPrefix(strings.TrimSpace(line), rssResult); ok {
			if err := json.Unmarshal([]byte(s), &rep); err != nil {
				b.Fatalf("child result %q: %v", s, err)
			}
			found = true
		}
	}
	if !found {
		b.Fatalf("child printed no result line:\n%s", out)
	}
	b.ReportMetric(rep.BaselineMiB, "baseline-MiB")
	b.ReportMetric(rep.AppendPeakMiB, "append-peak-MiB")
	b.ReportMetric(rep.DrainPeakMiB, "drain-peak-MiB")
	b.ReportMetric(rep.SpoolMiB, "spooled-MiB")
	b.ReportMetric(float64(rep.Records)/rep.AppendSeconds, "append-records/s")
	b.ReportMetric(float64(rep.Records)/rep.DrainSeconds, "drain-records/s")
}

// TestSpoolRSSChild is the child half of BenchmarkSpoolRSS; it does nothing
// unless the benchmark started it.
func TestSpoolRSSChild(t *testing.T) {
	brokers := os.Getenv(rssChildEnv)
	if brokers == "" {
		t.Skip("the child process of BenchmarkSpoolRSS")
	}
	ctx := context.Background()
	kb := newKafkaBus(t, strings.Split(brokers, ","))
	cb := openBreaker(t)
	n := spooledGiB / valueBytes
	bus := newResilient(t, kb, cb, openDisk(t, spoolBytes(n)+1<<20, nil), 10*time.Millisecond)

	sampler := startRSSSampler(t)
	rep := rssReport{Records: n, BaselineMiB: sampler.phase()}

	start := time.Now()
	publishConcurrently(t, n, publishers, func(i int) error {
		return bus.PublishRecord(ctx, benchRecord(i))
	})
	rep.AppendSeconds = time.Since(start).Seconds()
	st := bus.Stats()
	if st.Spooled != uint64(n) {
		t.Fatalf("spooled %d of %d records", st.Spooled, n)
	}
	rep.SpoolMiB = float64(st.Queue.Bytes) / (1 << 20)
	rep.AppendPeakMiB = sampler.phase()

	start = time.Now()
	cb.Reset()
	waitUntil(t, 20*time.Minute, time.Millisecond, "the spool to drain", func() bool { return bus.Stats().Replayed == uint64(n) })
	rep.DrainSeconds = time.Since(start).Seconds()
	rep.DrainPeakMiB = sampler.phase()
	sampler.stop()

	line, err := json.Marshal(rep)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Printf("%s%s\n", rssResult, line)
}

// rssSampler tracks the peak resident set size of this process per phase:
// the kernel's high-water mark (VmHWM, reset at each phase through
// /proc/self/clear_refs) and, in case the reset is not permitted, the
// maximum of VmRSS sampled every 10ms.
type rssSampler struct {
	tb       testing.TB
	peakKiB  atomic.Int64
	hwmReset bool // VmHWM was reset at the start of this phase; test goroutine only
	done     chan struct{}
	stopped  chan struct{}
}

func startRSSSampler(tb testing.TB) *rssSampler {
	s := &rssSampler{tb: tb, done: make(chan struct{}), stopped: make(chan struct{})}
	s.resetPeak()
	go func() {
		defer close(s.stopped)
		t := time.NewTicker(10 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-s.done:
				return
			case <-t.C:
				// Not Fatal: this is not the test goroutine. phase
				// reads the file again and reports a failure.
				if kib, err := procStatusKiB("VmRSS"); err == nil {
					s.observe(kib)
				}
			}
		}
	}()
	return s
}

func (s *rssSampler) observe(kib int64) {
	for {
		old := s.peakKiB.Load()
		if kib <= old || s.peakKiB.CompareAndSwap(old, kib) {
			return
		}
	}
}

// phase ends a phase: it returns the phase's peak in MiB and starts the
// next one.
func (s *rssSampler) phase() float64 {
	fields := []string{"VmRSS"}
	if s.hwmReset {
		fields = append(fields, "VmHWM")
	}
	for _, field := range fields {
		kib, err := procStatusKiB(field)
		if err != nil {
			s.tb.Fatal(err)
		}
		s.observe(kib)
	}
	peak := s.peakKiB.Swap(0)
	s.resetPeak()
	return float64(peak) / 1024
}

func (s *rssSampler) stop() {
	close(s.done)
	<-s.stopped
}

// resetPeak resets the kernel's VmHWM to the current RSS ("5" in
// clear_refs, Linux 4.0+).
func (s *rssSampler) resetPeak() {
	s.hwmReset = os.WriteFile("/proc/self/clear_refs", []byte("5"), 0) == nil
}

// procStatusKiB reads a "Name:   1234 kB" field of /proc/self/status.
func procStatusKiB(field string) (int64, error) {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		rest, ok := strings.CutPrefix(sc.Text(), field+":")
		if !ok {
			continue
		}
		kib, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
		if err != nil {
			return 0, fmt.Errorf("/proc/self/status %s: %w", field, err)
		}
		return kib, nil
	}
	if err := sc.Err(); err != nil {
		return 0, err
	}
	return 0, fmt.Errorf("/proc/self/status has no %s field", field)
}
