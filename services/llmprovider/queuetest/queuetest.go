package queuetest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/huleedu/huleedu/services/contracts"
	"github.com/huleedu/huleedu/services/llmprovider"
)

// Limits are the bounds a test asks for.
type Limits struct {
	MaxRequests int
	MaxBytes    int64
}

// Factory makes queues for the suite.
type Factory struct {
	// New returns an empty queue with the limits; it is closed (if it
	// needs to be) by the implementation's t.Cleanup.
	New func(t testing.TB, l Limits) llmprovider.Queue
	// Reopen, for durable queues, closes q and opens its storage again,
	// as a restarted process would. nil skips the durability tests.
	Reopen func(t testing.TB, q llmprovider.Queue) llmprovider.Queue
}

var t0 = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

// entry returns a queue entry named id, enqueued at t0 plus the offset,
// with a one-hour TTL and size bytes.
func entry(id string, offset time.Duration, size int64) llmprovider.Entry {
	at := t0.Add(offset)
	return llmprovider.Entry{
		QueueID: id, Bytes: size, EnqueuedAt: at, ExpiresAt: at.Add(time.Hour),
		Request: contracts.LLMComparisonRequestV1{RequestID: "req-" + id,
			EssayA:        contracts.LLMEssay{ID: "a", Text: "essay a"},
			EssayB:        contracts.LLMEssay{ID: "b", Text: "essay b"},
			CallbackTopic: contracts.TopicLLMComparisonResultV1, Metadata: map[string]string{"batch_id": "b-1"}},
	}
}

func enqueue(t *testing.T, q llmprovider.Queue, e llmprovider.Entry) llmprovider.Entry {
	t.Helper()
	got, created, err := q.Enqueue(context.Background(), e)
	if err != nil || !created {
		t.Fatalf("Enqueue(%s) = created %v, %v", e.QueueID, created, err)
	}
	return got
}

func claim(t *testing.T, q llmprovider.Queue, now time.Time) (llmprovider.Entry, bool) {
	t.Helper()
	e, ok, err := q.Claim(context.Background(), now, time.Minute)
	if err != nil {
		t.Fatalf("Claim: %v", err)
	}
	return e, ok
}

func mustClaim(t *testing.T, q llmprovider.Queue, now time.Time, want string) llmprovider.Entry {
	t.Helper()
	e, ok := claim(t, q, now)
	if !ok || e.QueueID != want {
		t.Fatalf("Claim at %v = %q (ok %v), want %q", now.Sub(t0), e.QueueID, ok, want)
	}
	return e
}

func finish(t *testing.T, q llmprovider.Queue, e llmprovider.Entry, status string) {
	t.Helper()
	if err := q.Finish(context.Background(), e.QueueID, e.Claim, llmprovider.Finish{At: t0, Status: status}); err != nil {
		t.Fatalf("Finish(%s): %v", e.QueueID, err)
	}
}

// Run runs the suite.
func Run(t *testing.T, f Factory) {
	big := Limits{MaxRequests: 100, MaxBytes: 1 << 20}
	t.Run("ClaimTakesOldestFirstAndMarksProcessing", func(t *testing.T) {
		q := f.New(t, big)
		enqueue(t, q, entry("q-1", 0, 10))
		enqueue(t, q, entry("q-2", time.Second, 10))
		e := mustClaim(t, q, t0.Add(time.Minute), "q-1")
		if e.Status != contracts.LLMStatusProcessing || e.Attempts != 1 || e.Claim == 0 || !e.LeaseUntil.Equal(t0.Add(2*time.Minute)) {
			t.Errorf("claimed %+v: want processing, attempt 1, a claim token, lease until now+1m", e)
		}
		if e.Request.EssayA.Text != "essay a" || e.Request.Metadata["batch_id"] != "b-1" {
			t.Errorf("claimed request %+v: want it as enqueued", e.Request)
		}
		mustClaim(t, q, t0.Add(time.Minute), "q-2")
		if _, ok := claim(t, q, t0.Add(time.Minute)); ok {
			t.Error("a third claim found an entry; both are processing")
		}
	})
	t.Run("EnqueueOfAKnownQueueIDReturnsTheEntryUnchanged", func(t *testing.T) {
		q := f.New(t, big)
		enqueue(t, q, entry("q-1", 0, 10))
		again := entry("q-1", time.Hour, 99)
		got, created, err := q.Enqueue(context.Background(), again)
		if err != nil || created || !got.EnqueuedAt.Equal(t0) || got.Bytes != 10 {
			t.Errorf("second Enqueue = %+v, created %v, %v; want the first entry, not created", got, created, err)
		}
		e := mustClaim(t, q, t0, "q-1")
		finish(t, q, e, contracts.LLMStatusCompleted)
		got, created, err = q.Enqueue(context.Background(), again)
		if err != nil || created || got.Status != contracts.LLMStatusCompleted {
			t.Errorf("Enqueue after Finish = %+v, created %v, %v; want the finished entry", got, created, err)
		}
		if _, ok := claim(t, q, t0.Add(time.Hour)); ok {
			t.Error("a finished entry was queued again")
		}
	})
	t.Run("EnqueuePastALimitIsQueueFullAndFinishFreesRoom", func(t *testing.T) {
		for name, tc := range map[string]struct {
			limits Limits
			sizes  []int64
		}{
			"requests": {Limits{MaxRequests: 2, MaxBytes: 1 << 20}, []int64{10, 10, 10}},
			"bytes":    {Limits{MaxRequests: 100, MaxBytes: 100}, []int64{60, 40, 1}},
		} {
			t.Run(name, func(t *testing.T) {
				q := f.New(t, tc.limits)
				enqueue(t, q, entry("q-0", 0, tc.sizes[0]))
				enqueue(t, q, entry("q-1", time.Second, tc.sizes[1]))
				_, _, err := q.Enqueue(context.Background(), entry("q-2", 2*time.Second, tc.sizes[2]))
				if !errors.Is(err, llmprovider.ErrQueueFull) {
					t.Fatalf("Enqueue past the limit: %v, want ErrQueueFull", err)
				}
				if _, err := q.Get(context.Background(), "q-2"); !errors.Is(err, llmprovider.ErrNotFound) {
					t.Errorf("Get of the refused entry: %v, want ErrNotFound", err)
				}
				e := mustClaim(t, q, t0, "q-0")
				finish(t, q, e, contracts.LLMStatusCompleted)
				enqueue(t, q, entry("q-2", 2*time.Second, tc.sizes[2]))
			})
		}
	})
	t.Run("ReleasedEntryIsDueAtNotBeforeAndKeepsItsDecision", func(t *testing.T) {
		q := f.New(t, big)
		enqueue(t, q, entry("q-1", 0, 10))
		enqueue(t, q, entry("q-2", time.Second, 10))
		e := mustClaim(t, q, t0, "q-1")
		decided := &llmprovider.Decision{Result: &contracts.LLMComparisonResultV1{RequestID: "req-q-1", WinnerID: "a"}}
		err := q.Release(context.Background(), e.QueueID, e.Claim, llmprovider.Release{At: t0, NotBefore: t0.Add(time.Minute),
			LastError: "publish not accepted", Provider: "anthropic", Decided: decided})
		if err != nil {
			t.Fatal(err)
		}
		// Not due yet: the younger entry comes first.
		mustClaim(t, q, t0.Add(30*time.Second), "q-2")
		if next, err := q.NextDue(context.Background()); err != nil || !next.Equal(t0.Add(time.Minute)) {
			t.Errorf("NextDue = %v, %v; want the released entry's NotBefore", next, err)
		}
		e = mustClaim(t, q, t0.Add(time.Minute), "q-1")
		if e.Attempts != 2 || e.LastError != "publish not accepted" || e.Provider != "anthropic" ||
			e.Decided == nil || e.Decided.Result == nil || e.Decided.Result.WinnerID != "a" {
			t.Errorf("reclaimed %+v: want attempt 2 with the last error, provider and decision", e)
		}
	})
	t.Run("ExpiredEntryIsDueWhateverItsNotBefore", func(t *testing.T) {
		q := f.New(t, big)
		enqueue(t, q, entry("q-1", 0, 10))
		e := mustClaim(t, q, t0, "q-1")
		if err := q.Release(context.Background(), e.QueueID, e.Claim, llmprovider.Release{At: t0, NotBefore: t0.Add(5 * time.Hour)}); err != nil {
			t.Fatal(err)
		}
		if next, _ := q.NextDue(context.Background()); !next.Equal(t0.Add(time.Hour)) {
			t.Errorf("NextDue = %v, want the TTL's end %v", next, t0.Add(time.Hour))
		}
		if _, ok := claim(t, q, t0.Add(59*time.Minute)); ok {
			t.Error("claimed before NotBefore and before expiry")
		}
		mustClaim(t, q, t0.Add(time.Hour), "q-1")
	})
	t.Run("RanOutLeaseMakesTheEntryDueAndTheOldClaimLost", func(t *testing.T) {
		q := f.New(t, big)
		enqueue(t, q, entry("q-1", 0, 10))
		old := mustClaim(t, q, t0, "q-1")
		if _, ok := claim(t, q, t0.Add(59*time.Second)); ok {
			t.Fatal("claimed while the lease runs")
		}
		again := mustClaim(t, q, t0.Add(time.Minute), "q-1")
		if again.Claim == old.Claim || again.Attempts != 2 {
			t.Errorf("second claim %+v: want a new token and attempt 2", again)
		}
		for name, err := range map[string]error{
			"Release": q.Release(context.Background(), old.QueueID, old.Claim, llmprovider.Release{At: t0}),
			"Finish":  q.Finish(context.Background(), old.QueueID, old.Claim, llmprovider.Finish{At: t0, Status: contracts.LLMStatusCompleted}),
		} {
			if !errors.Is(err, llmprovider.ErrClaimLost) {
				t.Errorf("%s with the old claim: %v, want ErrClaimLost", name, err)
			}
		}
		finish(t, q, again, contracts.LLMStatusCompleted)
		if err := q.Finish(context.Background(), again.QueueID, again.Claim, llmprovider.Finish{At: t0, Status: contracts.LLMStatusFailed}); !errors.Is(err, llmprovider.ErrClaimLost) {
			t.Errorf("second Finish: %v, want ErrClaimLost", err)
		}
	})
	t.Run("FinishedEntryIsReportedAndLeavesTheStats", func(t *testing.T) {
		q := f.New(t, big)
		enqueue(t, q, entry("q-1", 0, 10))
		enqueue(t, q, entry("q-2", time.Second, 20))
		st, err := q.Stats(context.Background())
		if err != nil || st.Requests != 2 || st.Bytes != 30 || !st.OldestAt.Equal(t0) || st.MaxRequests != 100 || st.MaxBytes != 1<<20 {
			t.Errorf("Stats = %+v, %v", st, err)
		}
		e := mustClaim(t, q, t0, "q-1")
		err = q.Finish(context.Background(), e.QueueID, e.Claim, llmprovider.Finish{At: t0.Add(time.Second),
			Status: contracts.LLMStatusFailed, Provider: "openai", FailureReason: contracts.LLMFailureRejected})
		if err != nil {
			t.Fatal(err)
		}
		got, err := q.Get(context.Background(), "q-1")
		if err != nil || got.Status != contracts.LLMStatusFailed || got.FailureReason != contracts.LLMFailureRejected ||
			got.Provider != "openai" || got.Request.RequestID != "req-q-1" || !got.UpdatedAt.Equal(t0.Add(time.Second)) {
			t.Errorf("Get of the finished entry = %+v, %v", got, err)
		}
		st, _ = q.Stats(context.Background())
		if st.Requests != 1 || st.Bytes != 20 || !st.OldestAt.Equal(t0.Add(time.Second)) {
			t.Errorf("Stats after Finish = %+v: want only q-2", st)
		}
		if _, err := q.Get(context.Background(), "nope"); !errors.Is(err, llmprovider.ErrNotFound) {
			t.Errorf("Get(unknown) = %v, want ErrNotFound", err)
		}
	})
	t.Run("ConcurrentClaimsNeverShareAnEntry", func(t *testing.T) {
		q := f.New(t, big)
		const n = 50
		for i := range n {
			enqueue(t, q, entry(fmt.Sprintf("q-%02d", i), time.Duration(i)*time.Millisecond, 1))
		}
		var mu sync.Mutex
		seen := map[string]int{}
		var wg sync.WaitGroup
		for range 8 {
			wg.Go(func() {
				for {
					e, ok, err := q.Claim(context.Background(), t0, time.Minute)
					if err != nil || !ok {
						return
					}
					mu.Lock()
					seen[e.QueueID]++
					mu.Unlock()
					_ = q.Finish(context.Background(), e.QueueID, e.Claim, llmprovider.Finish{At: t0, Status: contracts.LLMStatusCompleted})
				}
			})
		}
		wg.Wait()
		if len(seen) != n {
			t.Errorf("%d entries claimed, want %d", len(seen), n)
		}
		for id, c := range seen {
			if c != 1 {
				t.Errorf("%s claimed %d times", id, c)
			}
		}
	})
	if f.Reopen == nil {
		return
	}
	t.Run("EntriesSurviveAReopenAndAClaimOfTheDeadProcessIsDueAfterItsLease", func(t *testing.T) {
		q := f.New(t, big)
		enqueue(t, q, entry("q-1", 0, 10))
		enqueue(t, q, entry("q-2", time.Second, 10))
		dead := mustClaim(t, q, t0, "q-1")
		q = f.Reopen(t, q)
		if st, _ := q.Stats(context.Background()); st.Requests != 2 || st.Bytes != 20 {
			t.Errorf("Stats after reopen = %+v, want both entries", st)
		}
		mustClaim(t, q, t0, "q-2")
		again := mustClaim(t, q, t0.Add(time.Minute), "q-1")
		if again.Claim == dead.Claim {
			t.Error("the reopened queue reused a claim token of the dead process")
		}
	})
}
