package drill

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

func progressAt(phase string, elapsed time.Duration) Progress {
	return Progress{Phase: phase, Elapsed: elapsed, Duration: 30 * time.Second, Sent: 2000, Acked: 1500,
		Depth: 500, State: "open", Fault: "cut", SentRate: 2000, AckRate: 0}
}

func TestProgressOnTerminalRedrawsOneLineWithBar(t *testing.T) {
	var buf bytes.Buffer
	pp := NewProgressPrinter(&buf, true)
	pp.Update(progressAt(PhasePublishing, 15*time.Second))
	pp.Update(progressAt(PhasePublishing, 16*time.Second))
	pp.Done()
	out := buf.String()
	if strings.Count(out, "\r") != 2 || strings.Count(out, "\n") != 1 {
		t.Fatalf("want two in-place redraws and one final newline, got %q", out)
	}
	for _, want := range []string{"[============>", " 50%", "breaker=open", "queue=500", "(2000/s)", "fault=cut"} {
		if !strings.Contains(out, want) {
			t.Errorf("live line lacks %q: %q", want, out)
		}
	}
}

func TestProgressElsewhereWritesPlainLinesEveryFewSeconds(t *testing.T) {
	var buf bytes.Buffer
	pp := NewProgressPrinter(&buf, false)
	for s := 1; s <= 12; s++ {
		pp.Update(progressAt(PhasePublishing, time.Duration(s)*time.Second))
	}
	pp.Update(progressAt(PhaseDraining, 12*time.Second))
	pp.Done()
	out := buf.String()
	if strings.ContainsAny(out, "\r\x1b") {
		t.Fatalf("plain output has terminal controls: %q", out)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	// 1s, 6s, 11s, and the phase change
	if len(lines) != 4 || !strings.Contains(lines[3], PhaseDraining) {
		t.Fatalf("got %d lines, want 4 ending with the draining phase:\n%s", len(lines), out)
	}
}

func TestRecorderProgressComputesRatesOverTheLastSecond(t *testing.T) {
	r := newRecorder(0)
	for i := int64(0); i <= 20; i++ {
		r.sample(time.Duration(i)*100*time.Millisecond, pubStatus{Published: i * 100, State: "closed"})
	}
	p := r.progress(PhasePublishing, 2*time.Second, 3*time.Second, "")
	if p.AckRate != 1000 || p.Acked != 2000 {
		t.Fatalf("AckRate %v, Acked %d; want 1000/s and 2000", p.AckRate, p.Acked)
	}
}
