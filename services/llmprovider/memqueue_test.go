package llmprovider_test

import (
	"errors"
	"testing"
	"time"

	"github.com/huleedu/huleedu/services/contracts"

	"github.com/huleedu/huleedu/services/llmprovider"
	"github.com/huleedu/huleedu/services/llmprovider/queuetest"
)

func TestMemoryQueueConformance(t *testing.T) {
	queuetest.Run(t, queuetest.Factory{New: func(t testing.TB, l queuetest.Limits) llmprovider.Queue {
		q, err := llmprovider.NewMemoryQueue(llmprovider.MemoryQueueOptions{MaxRequests: l.MaxRequests, MaxBytes: l.MaxBytes})
		if err != nil {
			t.Fatal(err)
		}
		return q
	}})
}

func TestMemoryQueueForgetsTheOldestFinishedEntriesPastItsRetention(t *testing.T) {
	q, err := llmprovider.NewMemoryQueue(llmprovider.MemoryQueueOptions{MaxRequests: 10, MaxBytes: 1000, RetainFinished: 2})
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	for _, id := range []string{"q-1", "q-2", "q-3"} {
		if _, _, err := q.Enqueue(ctx, llmprovider.Entry{QueueID: id, Bytes: 1, ExpiresAt: t0.Add(time.Hour)}); err != nil {
			t.Fatal(err)
		}
		e, ok, err := q.Claim(ctx, t0, time.Minute)
		if err != nil || !ok {
			t.Fatal(ok, err)
		}
		if err := q.Finish(ctx, e.QueueID, e.Claim, llmprovider.Finish{At: t0, Status: contracts.LLMStatusCompleted}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := q.Get(ctx, "q-1"); !errors.Is(err, llmprovider.ErrNotFound) {
		t.Errorf("Get(q-1) = %v, want ErrNotFound: the oldest finished entry is past the retention", err)
	}
	if st, _ := q.Stats(ctx); st.Finished != 2 {
		t.Errorf("Stats.Finished = %d, want 2", st.Finished)
	}
}

func TestNewMemoryQueueRejectsMissingLimits(t *testing.T) {
	if _, err := llmprovider.NewMemoryQueue(llmprovider.MemoryQueueOptions{MaxRequests: 10}); err == nil {
		t.Error("NewMemoryQueue without MaxBytes succeeded")
	}
}
