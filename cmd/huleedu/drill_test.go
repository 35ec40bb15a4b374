package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
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
