package drill

import (
	"context"
	"slices"
	"testing"
	"time"
)

func TestSeqStartedButNeverFinishedIsRejected(t *testing.T) {
	r := newRecorder(3)
	r.started(1)
	r.finished(1, true, time.Millisecond, time.Second)
	r.started(2) // the process was killed during this call
	r.started(3)
	r.finished(3, false, time.Millisecond, time.Second)
	res := r.results()
	if !slices.Equal(res.rejected, []int64{2, 3}) || !res.accepted[1] || res.accepted[2] {
		t.Fatalf("rejected %v, accepted %v; want 2 and 3 rejected, 1 accepted", res.rejected, res.accepted)
	}
	if len(res.latencies) != 2 {
		t.Fatalf("%d latencies, want 2: an unfinished call has no latency", len(res.latencies))
	}
}

func TestInFlightListsStartedCallsWithoutOutcome(t *testing.T) {
	r := newRecorder(0)
	for seq := int64(1); seq <= 4; seq++ {
		r.started(seq)
	}
	r.finished(2, true, 0, 0)
	if got := r.inFlight(); !slices.Equal(got, []int64{1, 3, 4}) {
		t.Fatalf("inFlight = %v, want [1 3 4]", got)
	}
	if !r.isStarted(4) || r.isStarted(5) {
		t.Fatal("isStarted is wrong about seqs 4 and 5")
	}
}

func TestFirstOutcomeOfASeqWins(t *testing.T) {
	r := newRecorder(1)
	r.started(1)
	r.finished(1, false, -1, time.Second) // recorded as killed first
	r.finished(1, true, time.Millisecond, time.Second)
	if sent, acc := r.sent, r.accepted; sent != 1 || acc != 0 || r.results().accepted[1] {
		t.Fatalf("sent %d accepted %d: a late report overwrote the first outcome", sent, acc)
	}
}

func TestScheduleSubmitsRateTimesDurationInOrder(t *testing.T) {
	var got []int64
	err := schedule(context.Background(), 200, 250*time.Millisecond, time.Now(), func(_ context.Context, seq int64) error {
		got = append(got, seq)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 50 || got[0] != 1 || got[49] != 50 {
		t.Fatalf("submitted %d seqs (%v...), want 1..50", len(got), got[:min(len(got), 3)])
	}
}

func TestScheduleCatchesUpAfterABlockedSubmit(t *testing.T) {
	n := 0
	start := time.Now()
	err := schedule(context.Background(), 200, 300*time.Millisecond, start, func(_ context.Context, seq int64) error {
		n++
		if seq == 2 {
			<-time.After(200 * time.Millisecond) // a publisher that blocks, as during a blackhole
		}
		return nil
	})
	if err != nil || n != 60 {
		t.Fatalf("submitted %d seqs (err %v), want all 60 despite the block", n, err)
	}
}

func TestScheduleStopsWhenContextEnds(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	err := schedule(ctx, 1000, time.Hour, time.Now(), func(_ context.Context, seq int64) error {
		if seq == 10 {
			cancel()
		}
		return nil
	})
	if err == nil {
		t.Fatal("schedule returned nil after its context was canceled")
	}
}
