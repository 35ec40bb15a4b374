package drill

import (
	"bytes"
	"encoding/json"
	"html/template"
	"math"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/huleedu/huleedu/kafkabus"
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
			Rate: 2000, Size: 1024, Keys: 100, Workers: 32, Fault: "cut", Outages: []string{"1s@1s"}, CrashAtMs: 2500,
			DrainTimeoutMs: 60000, Bus: sampleBus()},
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

// sampleBus is the bus configuration of a default drill.
func sampleBus() kafkabus.Config {
	c := DefaultConfig()
	c.Brokers, c.Fallback.Dir, c.Logger = []string{"127.0.0.1:9092"}, "/tmp/huleedu-drill-spool-1", nil
	return c.Config
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

// A drill that leaves records in the spool and loses none passes, and
// says so in the summary, the HTML page and the JSON.
func TestRecordsLeftInTheSpoolAreNotedNotLost(t *testing.T) {
	r := sampleReport()
	r.LeftInSpool, r.LeftInSpoolSeqs, r.SpoolDir = 40, []int64{5961}, "/var/spool/drill"
	if r.ExitCode() != 0 {
		t.Fatalf("exit code %d for a drill that lost nothing", r.ExitCode())
	}
	var sum, page, js bytes.Buffer
	if err := r.WriteSummary(&sum); err != nil {
		t.Fatal(err)
	}
	if err := r.WriteHTML(&page); err != nil {
		t.Fatal(err)
	}
	if err := r.WriteJSON(&js); err != nil {
		t.Fatal(err)
	}
	for name, out := range map[string]string{"summary": sum.String(), "HTML": page.String()} {
		if !strings.Contains(out, "PASSED") || !strings.Contains(out, "40 accepted records are not in Kafka but left in the disk spool /var/spool/drill") {
			t.Errorf("%s lacks the verdict or the note:\n%s", name, out)
		}
	}
	if !strings.Contains(page.String(), "left in the disk spool (durable, not lost)") {
		t.Error("the HTML table does not count the records left in the spool apart from the lost ones")
	}
	for _, want := range []string{`"left_in_spool": 40`, `"spool_dir": "/var/spool/drill"`, `"lost": 0`, `"passed": true`} {
		if !strings.Contains(js.String(), want) {
			t.Errorf("JSON lacks %s", want)
		}
	}
}

// The summary and the HTML page print the bus configuration the drill
// ran; the JSON carries it whole, decodable back into a kafkabus.Config.
func TestReportPrintsTheBusConfiguration(t *testing.T) {
	r := sampleReport()
	var sum, page, js bytes.Buffer
	if err := r.WriteSummary(&sum); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"configuration (kafkabus.Config", "publish timeout 1s", "drill.kafka_producer: opens after 5 failures, probes after 2s",
		"disk spool /tmp/huleedu-drill-spool-1", "retry 50ms to 1s, open poll 250ms"} {
		if !strings.Contains(sum.String(), want) {
			t.Errorf("summary lacks %q:\n%s", want, sum.String())
		}
	}
	if err := r.WriteHTML(&page); err != nil {
		t.Fatal(err)
	}
	for _, row := range busRows(r.Settings.Bus) {
		if !strings.Contains(page.String(), "<code>"+row[0]+"</code></td><td class=\"num\">"+template.HTMLEscapeString(row[1])) {
			t.Errorf("HTML page lacks the configuration row %s = %s", row[0], row[1])
		}
	}
	if err := r.WriteJSON(&js); err != nil {
		t.Fatal(err)
	}
	var back struct {
		Settings struct {
			Bus kafkabus.Config `json:"bus"`
		} `json:"settings"`
	}
	if err := json.Unmarshal(js.Bytes(), &back); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(back.Settings.Bus, r.Settings.Bus) {
		t.Fatalf("JSON bus configuration\n  %+v\nwant\n  %+v", back.Settings.Bus, r.Settings.Bus)
	}
}

// Every field of kafkabus.Config (but its live objects) is a row of the
// HTML configuration table.
func TestBusRowsCoverEveryConfigField(t *testing.T) {
	rows := busRows(sampleBus())
	var names []string
	for _, r := range rows {
		names = append(names, r[0])
	}
	for _, want := range []string{"brokers", "client_id", "publish_timeout", "allow_auto_topic_creation", "max_record_bytes", "linger",
		"metadata_min_age", "breaker.disabled", "breaker.name", "breaker.failure_threshold", "breaker.recovery_timeout",
		"breaker.success_threshold", "fallback.mode", "fallback.queue_size", "fallback.dir", "fallback.max_bytes", "fallback.overflow",
		"drain.batch", "drain.in_flight", "drain.retry_min", "drain.retry_max", "drain.open_poll", "startup_check"} {
		if !slices.Contains(names, want) {
			t.Errorf("no row for %s (rows %v)", want, names)
		}
	}
	if len(names) != 23 {
		t.Errorf("%d rows, want the 23 settings: %v", len(names), names)
	}
}
