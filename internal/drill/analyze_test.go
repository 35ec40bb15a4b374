package drill

import (
	"testing"
	"time"
)

func TestPercentileUsesNearestRank(t *testing.T) {
	var lat []time.Duration
	for i := 1; i <= 1000; i++ {
		lat = append(lat, time.Duration(i)*time.Millisecond)
	}
	got := summarizeLatency(lat)
	want := Latency{P50: 500, P99: 990, P999: 999, Max: 1000}
	if got != want {
		t.Fatalf("summarizeLatency = %+v, want %+v", got, want)
	}
	if (summarizeLatency(nil) != Latency{}) {
		t.Fatal("summarizeLatency(nil) is not zero")
	}
}

func TestLatencyBucketsGroupByCompletionTime(t *testing.T) {
	lat := []time.Duration{time.Millisecond, 3 * time.Millisecond, 10 * time.Millisecond}
	done := []time.Duration{100 * time.Millisecond, 900 * time.Millisecond, 1500 * time.Millisecond}
	got := latencyBuckets(lat, done, time.Second, 2*time.Second)
	if len(got) != 2 || got[0].Count != 2 || got[0].Max != 3 || got[1].Count != 1 || got[1].P50 != 10 {
		t.Fatalf("latencyBuckets = %+v", got)
	}
}

func TestAnalyzeOutage(t *testing.T) {
	w := outageWindow{faultAt: 1000 * time.Millisecond, healedAt: 3000 * time.Millisecond, nextFaultAt: time.Hour}
	samples := func(depths ...int64) []Sample {
		var out []Sample
		for i, d := range depths {
			out = append(out, Sample{AtMs: int64(i) * 500, Depth: d, State: "closed"})
		}
		return out
	}
	opened := []Transition{{AtMs: 1400, From: "closed", To: "open"}, {AtMs: 3400, From: "open", To: "half_open"}}
	tests := []struct {
		name        string
		transitions []Transition
		samples     []Sample
		open, drain *int64
		maxDepth    int64
	}{
		{
			name:        "opened and drained",
			transitions: opened,
			//              0  .5  1  1.5  2    2.5  3    3.5  4
			samples:  samples(0, 0, 0, 10, 200, 400, 500, 20, 0),
			open:     ptr(400),
			drain:    ptr(1000),
			maxDepth: 500,
		},
		{
			name:     "never opened and nothing queued",
			samples:  samples(0, 0, 0, 0, 0, 0, 0, 0),
			open:     nil,
			drain:    nil,
			maxDepth: 0,
		},
		{
			name:        "queued and never drained",
			transitions: opened,
			samples:     samples(0, 0, 5, 5, 5, 5, 5, 5),
			open:        ptr(400),
			drain:       nil,
			maxDepth:    5,
		},
		{
			name:        "records queued just after the heal are drained too",
			transitions: []Transition{{AtMs: 3000, From: "closed", To: "open"}},
			samples:     samples(0, 0, 0, 0, 0, 0, 0, 50, 0, 0),
			open:        ptr(2000),
			drain:       ptr(1000),
			maxDepth:    50,
		},
		{
			name:        "an open before the fault does not count",
			transitions: []Transition{{AtMs: 500, From: "closed", To: "open"}},
			samples:     samples(0),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			open, drain, depth := analyzeOutage(w, tt.transitions, tt.samples)
			if !eqPtr(open, tt.open) || !eqPtr(drain, tt.drain) || depth != tt.maxDepth {
				t.Fatalf("analyzeOutage = (%v, %v, %d), want (%v, %v, %d)", show(open), show(drain), depth, show(tt.open), show(tt.drain), tt.maxDepth)
			}
		})
	}
}

func ptr(v int64) *int64 { return &v }

func eqPtr(a, b *int64) bool { return (a == nil && b == nil) || (a != nil && b != nil && *a == *b) }

func show(p *int64) any {
	if p == nil {
		return "null"
	}
	return *p
}
