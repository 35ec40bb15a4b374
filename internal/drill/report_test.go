package drill

import (
	"bytes"
	"encoding/json"
	"math"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

// sampleReport is a report as a drill with one outage and one crash would
// write it, for the output tests.
func sampleReport() *Report {
	r := &Report{
		Sent: 6000, Accepted: 5998, Rejected: 2, RejectedSeqs: []int64{4100, 4101},
		Delivered: 5998, Duplicates: 3, Spooled: 1200, MaxSpoolDepth: 1100,
		BreakerTransitions: []Transition{
			{AtMs: 1250, From: "closed", To: "open"}, {AtMs: 1750, From: "open", To: "half_open"},
			{AtMs: 2100, From: "half_open", To: "closed"},
		},
		TimeToOpenMs: ptr(250), TimeToDrainMs: ptr(300),
		PublishLatencyMs: Latency{P50: 0.8, P99: 12.5, P999: 300, Max: 1001},
		ThroughputPerS:   1999.3, Passed: true,
		LostSeqs: []int64{}, ReorderedSeqs: []int64{},
		Outages: []OutageResult{{Fault: "cut", FaultAtMs: 1000, HealedAtMs: 2000, TimeToOpenMs: ptr(250), TimeToDrainMs: ptr(300), MaxSpoolDepth: 1100}},
		Crashes: []CrashResult{{AtMs: 2500, InFlight: 2, RestartedAtMs: 2600}},
		Settings: ReportSettings{Brokers: "embedded (3 brokers)", Topic: "drill", Partitions: 6, DurationMs: 3000,
			Rate: 2000, Size: 1024, Keys: 100, Workers: 32, Fault: "cut", Outages: []string{"1s@1s"}, Fallback: "disk", CrashAtMs: 2500},
		WorkloadMs: 3000, DrainMs: 400, VerifyMs: 200, StartedAt: time.Date(2026, 11, 2, 10, 0, 0, 0, time.UTC),
	}
	for i := int64(0); i <= 34; i++ {
		depth := int64(0)
		if i >= 10 && i < 23 {
			depth = (i - 9) * 85
		}
		r.Timeline = append(r.Timeline, Sample{AtMs: i * 100, Sent: i * 200, Accepted: i * 200, Acked: i*200 - depth, Depth: depth, State: "closed"})
	}
	r.LatencySeries = latencyBuckets([]time.Duration{time.Millisecond, 2 * time.Millisecond, time.Second},
		[]time.Duration{500 * time.Millisecond, 1500 * time.Millisecond, 2500 * time.Millisecond}, time.Second, 4*time.Second)
	return r
}

func TestReportJSONHasEveryContractField(t *testing.T) {
	var buf bytes.Buffer
	if err := sampleReport().WriteJSON(&buf); err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	if err := json.Unmarshal(buf.Bytes(), &got); err != nil {
		t.Fatal(err)
	}
	for _, field := range []string{"sent", "accepted", "rejected", "rejected_seqs", "delivered", "lost", "duplicates",
		"reordered", "spooled", "max_spool_depth", "breaker_transitions", "time_to_open_ms", "time_to_drain_ms",
		"publish_latency_ms", "throughput_per_s", "passed"} {
		if _, ok := got[field]; !ok {
			t.Errorf("JSON report lacks %q", field)
		}
	}
	lat := got["publish_latency_ms"].(map[string]any)
	for _, field := range []string{"p50", "p99", "p999", "max"} {
		if _, ok := lat[field]; !ok {
			t.Errorf("publish_latency_ms lacks %q", field)
		}
	}
	tr := got["breaker_transitions"].([]any)[0].(map[string]any)
	if tr["at_ms"] != 1250.0 || tr["from"] != "closed" || tr["to"] != "open" {
		t.Errorf("breaker_transitions[0] = %v, want {at_ms 1250, from closed, to open}", tr)
	}
	if _, ok := got["Timeline"]; ok {
		t.Error("the timeline leaked into the JSON report")
	}
}

func TestReportJSONWritesNullForTimesThatDidNotHappen(t *testing.T) {
	r := sampleReport()
	r.TimeToOpenMs, r.TimeToDrainMs = nil, nil
	var buf bytes.Buffer
	if err := r.WriteJSON(&buf); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"time_to_open_ms": null`, `"time_to_drain_ms": null`} {
		if !strings.Contains(buf.String(), want) {
			t.Errorf("JSON lacks %s", want)
		}
	}
}

func TestExitCodeIsZeroExactlyWhenPassed(t *testing.T) {
	r := sampleReport()
	if r.ExitCode() != 0 {
		t.Fatalf("passed report exit code %d", r.ExitCode())
	}
	r.Passed = false
	if r.ExitCode() != 1 {
		t.Fatalf("failed report exit code %d", r.ExitCode())
	}
}

func TestSummaryShowsVerdictCountsAndTimings(t *testing.T) {
	var buf bytes.Buffer
	if err := sampleReport().WriteSummary(&buf); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	for _, want := range []string{"drill PASSED", "fault cut 1s@1s", "lost", "reordered", "time to open", "250 ms",
		"time to drain", "300 ms", "p99", "12.50 ms", "closed→open 1.2s", "crash"} {
		if !strings.Contains(out, want) {
			t.Errorf("summary lacks %q:\n%s", want, out)
		}
	}
}

func TestSummaryOfFailedDrillListsOffendingSeqs(t *testing.T) {
	r := sampleReport()
	r.Passed, r.Lost, r.LostSeqs = false, 2, []int64{17, 42}
	var buf bytes.Buffer
	if err := r.WriteSummary(&buf); err != nil {
		t.Fatal(err)
	}
	if out := buf.String(); !strings.Contains(out, "drill FAILED") || !strings.Contains(out, "lost seqs 17 42") {
		t.Fatalf("summary:\n%s", out)
	}
}

func TestHTMLReportIsSelfContained(t *testing.T) {
	var buf bytes.Buffer
	if err := sampleReport().WriteHTML(&buf); err != nil {
		t.Fatal(err)
	}
	page := buf.String()
	if n := strings.Count(page, "<svg"); n != 4 {
		t.Errorf("page has %d charts, want 4 (rates, breaker, queue, latency)", n)
	}
	// The only URL allowed is the SVG namespace, which is a name, not a
	// fetch.
	withoutNS := strings.ReplaceAll(page, `xmlns="http://www.w3.org/2000/svg"`, "")
	for _, ref := range []*regexp.Regexp{
		regexp.MustCompile(`(?i)https?://`), regexp.MustCompile(`(?i)\s(src|href)=`),
		regexp.MustCompile(`(?i)url\(`), regexp.MustCompile(`(?i)@import`),
	} {
		if loc := ref.FindStringIndex(withoutNS); loc != nil {
			t.Errorf("page references the network: %q", withoutNS[max(loc[0]-40, 0):min(loc[1]+40, len(withoutNS))])
		}
	}
	for _, want := range []string{"PASSED", "Publish and ack rate", "Breaker state", "Fallback queue depth", "Publish latency", "SIGKILL", "closed", "half_open"} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks %q", want)
		}
	}
}

func TestStateBandsCoverTheRunAndMarkTheCrash(t *testing.T) {
	bands := sampleReport().stateBands(3.4)
	var states []string
	for _, b := range bands {
		states = append(states, strings.Fields(b.label)[0])
	}
	want := []string{"closed", "open", "half_open", "closed", "down", "closed"}
	if !slices.Equal(states, want) {
		t.Fatalf("bands %v, want %v", states, want)
	}
	if bands[0].x0 != 0 || bands[len(bands)-1].x1 != 3.4 {
		t.Fatalf("bands span %v..%v, want 0..3.4", bands[0].x0, bands[len(bands)-1].x1)
	}
}

func TestNiceStep(t *testing.T) {
	for _, tt := range []struct{ span, want float64 }{{30, 5}, {3.4, 0.5}, {2000, 200}, {110, 20}} {
		if got := niceStep(tt.span, 10); math.Abs(got-tt.want) > 1e-9 {
			t.Errorf("niceStep(%v, 10) = %v, want %v", tt.span, got, tt.want)
		}
	}
}
