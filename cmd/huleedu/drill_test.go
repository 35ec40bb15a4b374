package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/huleedu/huleedu/kafkabus"
)

// shortDrill are flags for a drill of a few seconds.
var shortDrill = []string{"drill", "--duration", "3s", "--rate", "200", "--keys", "10", "--workers", "4", "--size", "200",
	"--failure-threshold", "3", "--recovery-timeout", "300ms", "--success-threshold", "1"}

func TestDrillWritesTheJSONReportToStdoutAndPasses(t *testing.T) {
	html := filepath.Join(t.TempDir(), "report.html")
	r := runCLI(t, nil, append(shortDrill, "--outage", "1s@1s", "--report-json", "-", "--report-html", html, "--quiet")...)
	if r.code != exitOK {
		t.Fatalf("exit status %d, stderr %q", r.code, r.stderr)
	}
	var rep map[string]any
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil {
		t.Fatalf("stdout is not the JSON report: %v\n%s", err, r.stdout)
	}
	if rep["passed"] != true || rep["sent"] != 600.0 || rep["lost"] != 0.0 {
		t.Fatalf("report: passed %v, sent %v, lost %v", rep["passed"], rep["sent"], rep["lost"])
	}
	if r.stderr != "" {
		t.Fatalf("--quiet wrote to stderr: %q", r.stderr)
	}
	page, err := os.ReadFile(html)
	if err != nil || !strings.Contains(string(page), "<svg") {
		t.Fatalf("HTML report: %v, %d bytes", err, len(page))
	}
}

func TestDrillShowsProgressAndSummaryWhenNotQuiet(t *testing.T) {
	r := runCLI(t, nil, append(shortDrill, "--outage", "1s@1s", "--fallback", "memory", "--fault", "error")...)
	if r.code != exitOK {
		t.Fatalf("exit status %d, stderr %q", r.code, r.stderr)
	}
	if !strings.Contains(r.stdout, "drill PASSED") || !strings.Contains(r.stdout, "time to open") {
		t.Fatalf("stdout lacks the summary: %q", r.stdout)
	}
	if !strings.Contains(r.stderr, "publishing") || strings.Contains(r.stderr, "\r") {
		t.Fatalf("stderr lacks plain progress lines (not a terminal): %q", r.stderr)
	}
}

func TestCrashDrillRestartsThePublisherProcess(t *testing.T) {
	report := filepath.Join(t.TempDir(), "report.json")
	r := runCLI(t, nil, append(shortDrill, "--fault", "none", "--crash-at", "1500ms", "--report-json", report, "--quiet")...)
	if r.code != exitOK {
		t.Fatalf("exit status %d, stderr %q", r.code, r.stderr)
	}
	b, err := os.ReadFile(report)
	if err != nil {
		t.Fatal(err)
	}
	var rep struct {
		Passed  bool `json:"passed"`
		Crashes []struct {
			AtMs int64 `json:"at_ms"`
		} `json:"crashes"`
	}
	if err := json.Unmarshal(b, &rep); err != nil {
		t.Fatal(err)
	}
	if !rep.Passed || len(rep.Crashes) != 1 {
		t.Fatalf("passed %v, crashes %v: want a passing drill with one crash", rep.Passed, rep.Crashes)
	}
}

func TestInterruptedDrillExitsWithStatus130AndKeepsNoReport(t *testing.T) {
	report := filepath.Join(t.TempDir(), "report.json")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var out bytes.Buffer
	progress := newFirstWrite()
	c := newTestCLI(nil, &out, progress)
	done := make(chan int, 1)
	go func() {
		done <- c.run(ctx, []string{"drill", "--duration", "30s", "--rate", "200", "--report-json", report})
	}()
	select {
	case <-progress.written:
	case <-time.After(30 * time.Second):
		t.Fatal("the drill showed no progress within 30s")
	}
	cancel() // as SIGINT would
	var code int
	select {
	case code = <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("the interrupted drill did not stop within 30s")
	}
	stderr := progress.String()
	if code != exitSignals || !strings.Contains(stderr, "huleedu: drill: interrupted after") {
		t.Fatalf("exit status %d, stderr %q; want %d and the interruption named", code, stderr, exitSignals)
	}
	assertNoStackTrace(t, stderr)
	if _, err := os.Stat(report); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("report file after an interrupted drill: %v, want none", err)
	}
	if out.Len() != 0 {
		t.Errorf("stdout %q, want no summary of a drill that did not finish", out.String())
	}
}

// firstWrite is a concurrency-safe buffer whose written channel closes
// at the first write.
type firstWrite struct {
	mu      sync.Mutex
	buf     bytes.Buffer
	once    sync.Once
	written chan struct{}
}

func newFirstWrite() *firstWrite { return &firstWrite{written: make(chan struct{})} }

func (w *firstWrite) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.once.Do(func() { close(w.written) })
	return w.buf.Write(p)
}

func (w *firstWrite) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.String()
}

// An explicit 0 is refused with the flag's range, as -1 is, never taken
// for the default (issue 18); the drill does not start.
func TestDrillRefusesAnExplicitZeroOfEachFlag(t *testing.T) {
	for _, tc := range []struct {
		flags []string
		want  string
	}{
		{[]string{"--rate", "0"}, "--rate 0: must be between 1 and 1000000"},
		{[]string{"--duration", "0s"}, "--duration 0s: must be between 100ms and 24h"},
		{[]string{"--size", "0"}, "--size 0: must be between 1 and 900000"},
		{[]string{"--keys", "0"}, "--keys 0: must be between 1 and 1000000"},
		{[]string{"--workers", "0"}, "--workers 0: must be between 1 and 4096"},
		{[]string{"--partitions", "0"}, "--partitions 0: must be between 1 and 1000"},
		{[]string{"--publish-timeout", "0s"}, "--publish-timeout 0s: must be between 1ms and 1h"},
		{[]string{"--failure-threshold", "0"}, "--failure-threshold 0: must be between 1 and 1000000"},
		{[]string{"--recovery-timeout", "0s"}, "--recovery-timeout 0s: must be between 10ms and 24h"},
		{[]string{"--embedded-brokers", "0"}, "--embedded-brokers 0: must be between 1 and 9"},
		{[]string{"--queue-size", "0", "--fallback", "memory"}, "--queue-size 0: must be between 1 and 100000000"},
		{[]string{"--success-threshold", "0"}, "--success-threshold 0: must be between 1 and 1000000"},
		{[]string{"--spool-max-bytes", "0"}, "--spool-max-bytes 0: must be at least 1048576"},
		{[]string{"--retry-min", "0s"}, "--retry-min 0s: must be between 1ms and 1h"},
		{[]string{"--retry-max", "0s"}, "--retry-max 0s: must be between 1ms and 1h"},
		{[]string{"--open-poll", "0s"}, "--open-poll 0s: must be between 1ms and 1h"},
		{[]string{"--drain-batch", "0"}, "--drain-batch 0: must be between 1 and 100000"},
		{[]string{"--drain-in-flight", "0"}, "--drain-in-flight 0: must be between 1 and 1024"},
		{[]string{"--metadata-min-age", "0s"}, "--metadata-min-age 0s: must be between 10ms and 10m"},
		{[]string{"--max-record-bytes", "0"}, "--max-record-bytes 0: must be between 512 and 1073741824"},
		{[]string{"--drain-timeout", "0s"}, "--drain-timeout 0s: must be between 1ms and 24h"},
		{[]string{"--verify-timeout", "0s"}, "--verify-timeout 0s: must be between 1ms and 24h"},
		{[]string{"--rate", "-1"}, "--rate -1: must be between 1 and 1000000"},
		// Flags whose empty value means a default in the library are
		// refused when given empty, and flags of the other queue refused.
		{[]string{"--fault", ""}, `--fault "": want one of`},
		{[]string{"--queue-size", "500"}, "--queue-size needs --fallback memory"},
		{[]string{"--spool-max-bytes", "2097152", "--fallback", "memory"}, "--spool-max-bytes needs --fallback disk"},
	} {
		t.Run(strings.Join(tc.flags, " "), func(t *testing.T) {
			assertCleanUsageError(t, runCLI(t, nil, append([]string{"drill"}, tc.flags...)...), tc.want)
		})
	}
}

// The drill's flags set the bus a service would run: the report's
// configuration is the kafkabus.Config they describe, the drain knobs a
// service sets with KAFKA_DRAIN_* included.
func TestDrillFlagsSetTheBusConfigurationTheReportPrints(t *testing.T) {
	r := runCLI(t, nil, append(shortDrill, "--fault", "none", "--duration", "1s", "--retry-min", "20ms", "--retry-max", "400ms",
		"--open-poll", "30ms", "--drain-batch", "50", "--drain-in-flight", "2", "--publish-timeout", "2s", "--report-json", "-", "--quiet")...)
	if r.code != exitOK {
		t.Fatalf("exit status %d, stderr %q", r.code, r.stderr)
	}
	var rep struct {
		Settings struct {
			Bus kafkabus.Config `json:"bus"`
		} `json:"settings"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil {
		t.Fatal(err)
	}
	b := rep.Settings.Bus
	if b.Drain != (kafkabus.DrainConfig{Batch: 50, InFlight: 2, RetryMin: 20 * time.Millisecond, RetryMax: 400 * time.Millisecond, OpenPoll: 30 * time.Millisecond}) ||
		b.PublishTimeout != 2*time.Second || b.MetadataMinAge != 200*time.Millisecond ||
		b.Breaker.FailureThreshold != 3 || b.Breaker.RecoveryTimeout != 300*time.Millisecond || b.Breaker.SuccessThreshold != 1 {
		t.Fatalf("report's bus configuration %+v is not what the flags said (metadata min age follows the publish timeout)", b)
	}
}

// Issue 18: with the breaker still open when --drain-timeout ends, the
// records left in the disk spool are durable, not lost. The drill passes
// (exit status 0) and says how many are left and where.
func TestDrillWithRecordsLeftInTheSpoolPassesWithANote(t *testing.T) {
	dir := t.TempDir()
	report := filepath.Join(dir, "report.json")
	page := filepath.Join(dir, "report.html")
	spoolDir := filepath.Join(dir, "spool")
	r := runCLI(t, nil, "drill", "--duration", "3s", "--rate", "200", "--keys", "10", "--workers", "4", "--size", "200",
		"--fault", "blackhole", "--outage", "2s@1s", "--failure-threshold", "3", "--recovery-timeout", "10s",
		"--drain-timeout", "100ms", "--spool-dir", spoolDir, "--report-json", report, "--report-html", page)
	if r.code != exitOK {
		t.Fatalf("exit status %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
	var rep struct {
		Passed      bool   `json:"passed"`
		Lost        int64  `json:"lost"`
		LeftInSpool int64  `json:"left_in_spool"`
		SpoolDir    string `json:"spool_dir"`
	}
	b, err := os.ReadFile(report)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &rep); err != nil {
		t.Fatal(err)
	}
	if !rep.Passed || rep.Lost != 0 || rep.LeftInSpool == 0 || rep.SpoolDir != spoolDir {
		t.Fatalf("report: passed %v, lost %d, left in spool %d at %q; want a pass with records left in %s",
			rep.Passed, rep.Lost, rep.LeftInSpool, rep.SpoolDir, spoolDir)
	}
	note := "left in the disk spool " + spoolDir
	if !strings.Contains(r.stdout, "drill PASSED") || !strings.Contains(r.stdout, note) {
		t.Fatalf("summary lacks the verdict or the note %q:\n%s", note, r.stdout)
	}
	if html, err := os.ReadFile(page); err != nil || !strings.Contains(string(html), note) {
		t.Fatalf("HTML page lacks the note (%v)", err)
	}
}
