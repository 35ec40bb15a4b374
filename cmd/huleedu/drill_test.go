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
