package spooltest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/huleedu/huleedu/event"
	"github.com/huleedu/huleedu/spool"
)

// Config is what a subtest needs of the queue it opens.
type Config struct {
	// Capacity > 0 asks for a queue that holds exactly Capacity records
	// made by Record (all the same size) and not one more. 0 asks for a
	// queue with room for every test (at least 10,000 such records).
	Capacity int
	// Overflow is the policy the queue must use.
	Overflow spool.Overflow
}

// MaxBytes turns Capacity into a byte limit for queues limited in bytes:
// Capacity times cost(Record(0)), or 0 (the queue's default) when
// Capacity is 0.
func (c Config) MaxBytes(cost func(event.Record) int64) int64 {
	if c.Capacity == 0 {
		return 0
	}
	return int64(c.Capacity) * cost(Record(0))
}

// Opener returns a new, empty queue for one subtest and arranges (with
// t.Cleanup) to close it. The suite may close it first, so Close must
// accept a second call.
type Opener func(t *testing.T, cfg Config) spool.Queue

// Record returns the suite's i-th record. Records of every i below 10^8
// have the same size.
func Record(i int) event.Record {
	return event.Record{
		Topic:   "spooltest",
		Key:     fmt.Appendf(nil, "key-%08d", i),
		Value:   fmt.Appendf(nil, "value-%08d", i),
		Headers: []event.Header{{Key: "n", Value: fmt.Appendf(nil, "%08d", i)}},
	}
}

// index recovers i from Record(i).
func index(t *testing.T, r event.Record) int {
	t.Helper()
	i, err := strconv.Atoi(strings.TrimPrefix(string(r.Value), "value-"))
	if err != nil {
		t.Fatalf("record value %q was not made by Record", r.Value)
	}
	return i
}

// wait bounds every wait for something that should happen promptly.
const wait = 10 * time.Second

// TestQueue runs the whole Queue contract against queues from open.
func TestQueue(t *testing.T, open Opener) {
	tests := []struct {
		name string
		cfg  Config
		run  func(*testing.T, spool.Queue)
	}{
		{"AppendThenPeekReturnsRecordsInOrder", Config{}, testOrder},
		{"RecordFieldsRoundTripWithNilsKept", Config{}, testRoundTrip},
		{"PeekDoesNotRemove", Config{}, testPeekDoesNotRemove},
		{"PeekOfEmptyQueueReturnsNothing", Config{}, testPeekEmpty},
		{"PeekRejectsNonPositiveMax", Config{}, testPeekBadMax},
		{"AckRemovesEveryEntryUpToSeq", Config{}, testAck},
		{"AckBeyondLastPeekRemovesUpToSeq", Config{}, testAckBeyondLastPeek},
		{"AckOfAcknowledgedSeqChangesNothing", Config{}, testAckAgain},
		{"AckPastTailFailsAndRemovesNothing", Config{}, testAckPastTail},
		{"SeqsKeepIncreasingAfterDraining", Config{}, testSeqAfterDrain},
		{"DeadLetterRemovesHead", Config{}, testDeadLetter},
		{"DeadLetterOfNonHeadFailsAndChangesNothing", Config{}, testDeadLetterNotHead},
		{"NotifyAfterAppend", Config{}, testNotify},
		{"NotifyNeverBlocksAppend", Config{}, testNotifyNonBlocking},
		{"StatsCountQueuedRecords", Config{}, testStats},
		{"ConcurrentAppendersKeepTheirOwnOrder", Config{}, testConcurrentAppenders},
		{"CloseMakesLaterCallsFailWithErrClosed", Config{}, testClose},
		{"AppendLargerThanQueueFailsWithErrTooLarge", Config{Capacity: 4, Overflow: spool.OverflowReject}, testTooLarge},
		{"RejectFailsWithErrFullWhenFull", Config{Capacity: 4, Overflow: spool.OverflowReject}, testReject},
		{"RejectedAppendStoresNoneOfItsRecords", Config{Capacity: 4, Overflow: spool.OverflowReject}, testRejectAllOrNone},
		{"BlockWaitsForAckToFreeRoom", Config{Capacity: 4, Overflow: spool.OverflowBlock}, testBlock},
		{"BlockGivesUpWhenContextEnds", Config{Capacity: 4, Overflow: spool.OverflowBlock}, testBlockContext},
		{"CloseReleasesBlockedAppender", Config{Capacity: 4, Overflow: spool.OverflowBlock}, testCloseReleasesBlocked},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q := open(t, tt.cfg)
			tt.run(t, q)
		})
	}
}

func appendN(t *testing.T, q spool.Queue, from, n int) {
	t.Helper()
	for i := from; i < from+n; i++ {
		if err := q.Append(context.Background(), Record(i)); err != nil {
			t.Fatalf("Append(Record(%d)): %v", i, err)
		}
	}
}

func peek(t *testing.T, q spool.Queue, max int) []spool.Entry {
	t.Helper()
	es, err := q.Peek(context.Background(), max)
	if err != nil {
		t.Fatalf("Peek(%d): %v", max, err)
	}
	return es
}

func ack(t *testing.T, q spool.Queue, seq uint64) {
	t.Helper()
	if err := q.Ack(seq); err != nil {
		t.Fatalf("Ack(%d): %v", seq, err)
	}
}

func indexes(t *testing.T, es []spool.Entry) []int {
	t.Helper()
	out := make([]int, len(es))
	for i, e := range es {
		out[i] = index(t, e.Record)
	}
	return out
}

func wantIndexes(t *testing.T, es []spool.Entry, want ...int) {
	t.Helper()
	got := indexes(t, es)
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("queued records = %v, want %v", got, want)
	}
}

func testOrder(t *testing.T, q spool.Queue) {
	appendN(t, q, 0, 3)
	if err := q.Append(context.Background(), Record(3), Record(4)); err != nil {
		t.Fatal(err)
	}
	es := peek(t, q, 10)
	wantIndexes(t, es, 0, 1, 2, 3, 4)
	for i, e := range es {
		if e.AppendedAt.IsZero() {
			t.Errorf("entry %d: AppendedAt is zero", i)
		}
		if i > 0 && e.Seq <= es[i-1].Seq {
			t.Errorf("seqs not increasing: %d after %d", e.Seq, es[i-1].Seq)
		}
	}
}

func testRoundTrip(t *testing.T, q spool.Queue) {
	recs := []event.Record{
		{Topic: "a", Key: nil, Value: []byte{}, Headers: nil},
		{Topic: "b", Key: []byte{}, Value: nil, Headers: []event.Header{{Key: "x", Value: nil}, {Key: "", Value: []byte{}}, {Key: "y", Value: []byte{0, 1, 2}}}},
		{Topic: "c", Key: []byte("k\x00"), Value: bytes.Repeat([]byte{0xff}, 3000)},
	}
	if err := q.Append(context.Background(), recs...); err != nil {
		t.Fatal(err)
	}
	es := peek(t, q, 10)
	if len(es) != len(recs) {
		t.Fatalf("Peek returned %d entries, want %d", len(es), len(recs))
	}
	for i, e := range es {
		if d := diffRecord(e.Record, recs[i]); d != "" {
			t.Errorf("entry %d: %s", i, d)
		}
	}
}

// diffRecord describes how got differs from want, nil and empty told apart.
func diffRecord(got, want event.Record) string {
	eq := func(a, b []byte) bool { return (a == nil) == (b == nil) && bytes.Equal(a, b) }
	switch {
	case got.Topic != want.Topic:
		return fmt.Sprintf("topic %q, want %q", got.Topic, want.Topic)
	case !eq(got.Key, want.Key):
		return fmt.Sprintf("key %#v, want %#v", got.Key, want.Key)
	case !eq(got.Value, want.Value):
		return fmt.Sprintf("value of %d bytes (nil %t), want %d (nil %t)", len(got.Value), got.Value == nil, len(want.Value), want.Value == nil)
	case len(got.Headers) != len(want.Headers):
		return fmt.Sprintf("%d headers, want %d", len(got.Headers), len(want.Headers))
	}
	for i := range got.Headers {
		if got.Headers[i].Key != want.Headers[i].Key || !eq(got.Headers[i].Value, want.Headers[i].Value) {
			return fmt.Sprintf("header %d = %#v, want %#v", i, got.Headers[i], want.Headers[i])
		}
	}
	return ""
}

func testPeekDoesNotRemove(t *testing.T, q spool.Queue) {
	appendN(t, q, 0, 3)
	wantIndexes(t, peek(t, q, 10), 0, 1, 2)
	wantIndexes(t, peek(t, q, 10), 0, 1, 2)
	wantIndexes(t, peek(t, q, 2), 0, 1)
	if n := q.Stats().Records; n != 3 {
		t.Fatalf("Stats().Records = %d after peeking, want 3", n)
	}
}

func testPeekEmpty(t *testing.T, q spool.Queue) {
	if es := peek(t, q, 10); len(es) != 0 {
		t.Fatalf("Peek of an empty queue returned %d entries", len(es))
	}
}

func testPeekBadMax(t *testing.T, q spool.Queue) {
	appendN(t, q, 0, 1)
	for _, max := range []int{0, -1} {
		if _, err := q.Peek(context.Background(), max); err == nil {
			t.Errorf("Peek(%d) returned no error", max)
		}
	}
}

func testAck(t *testing.T, q spool.Queue) {
	appendN(t, q, 0, 5)
	es := peek(t, q, 10)
	ack(t, q, es[1].Seq)
	wantIndexes(t, peek(t, q, 10), 2, 3, 4)
	ack(t, q, es[4].Seq)
	wantIndexes(t, peek(t, q, 10))
}

func testAckBeyondLastPeek(t *testing.T, q spool.Queue) {
	appendN(t, q, 0, 6)
	all := peek(t, q, 10)
	peek(t, q, 1) // the last Peek saw only the head
	ack(t, q, all[4].Seq)
	wantIndexes(t, peek(t, q, 10), 5)
	if n := q.Stats().Records; n != 1 {
		t.Fatalf("Stats().Records = %d, want 1", n)
	}
}

func testAckAgain(t *testing.T, q spool.Queue) {
	appendN(t, q, 0, 3)
	es := peek(t, q, 10)
	ack(t, q, es[1].Seq)
	for _, seq := range []uint64{es[1].Seq, es[0].Seq} {
		if err := q.Ack(seq); err != nil {
			t.Fatalf("Ack(%d) of an acknowledged seq: %v", seq, err)
		}
	}
	wantIndexes(t, peek(t, q, 10), 2)
}

func testAckPastTail(t *testing.T, q spool.Queue) {
	appendN(t, q, 0, 3)
	es := peek(t, q, 10)
	if err := q.Ack(es[2].Seq + 1); err == nil {
		t.Fatal("Ack past the tail returned no error")
	}
	wantIndexes(t, peek(t, q, 10), 0, 1, 2)
}

func testSeqAfterDrain(t *testing.T, q spool.Queue) {
	appendN(t, q, 0, 2)
	es := peek(t, q, 10)
	ack(t, q, es[1].Seq)
	appendN(t, q, 2, 1)
	next := peek(t, q, 10)
	wantIndexes(t, next, 2)
	if next[0].Seq <= es[1].Seq {
		t.Fatalf("seq %d after draining is not above the acknowledged %d", next[0].Seq, es[1].Seq)
	}
}

func testDeadLetter(t *testing.T, q spool.Queue) {
	appendN(t, q, 0, 2)
	es := peek(t, q, 10)
	if err := q.DeadLetter(es[0], "rejected for good"); err != nil {
		t.Fatal(err)
	}
	wantIndexes(t, peek(t, q, 10), 1)
	if s := q.Stats(); s.DeadLetters != 1 || s.Records != 1 {
		t.Fatalf("Stats() = %+v, want 1 record and 1 dead letter", s)
	}
}

func testDeadLetterNotHead(t *testing.T, q spool.Queue) {
	appendN(t, q, 0, 2)
	es := peek(t, q, 10)
	if err := q.DeadLetter(es[1], "not the head"); err == nil {
		t.Fatal("DeadLetter of the second entry returned no error")
	}
	wantIndexes(t, peek(t, q, 10), 0, 1)
	if n := q.Stats().DeadLetters; n != 0 {
		t.Fatalf("Stats().DeadLetters = %d, want 0", n)
	}
}

func testNotify(t *testing.T, q spool.Queue) {
	select {
	case <-q.Notify():
	default:
	}
	appendN(t, q, 0, 1)
	select {
	case <-q.Notify():
	case <-time.After(wait):
		t.Fatal("Notify did not fire after Append")
	}
}

func testNotifyNonBlocking(t *testing.T, q spool.Queue) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := range 10 {
			if err := q.Append(context.Background(), Record(i)); err != nil {
				t.Errorf("Append: %v", err)
				return
			}
		}
	}()
	select {
	case <-done:
	case <-time.After(wait):
		t.Fatal("Appends blocked while nobody read Notify")
	}
	if len(q.Notify()) > 1 {
		t.Fatalf("Notify channel holds %d signals, want at most 1", len(q.Notify()))
	}
}

func testStats(t *testing.T, q spool.Queue) {
	if s := q.Stats(); s.Records != 0 || s.Bytes != 0 || !s.OldestAt.IsZero() {
		t.Fatalf("Stats() of an empty queue = %+v", s)
	}
	appendN(t, q, 0, 3)
	es := peek(t, q, 10)
	s := q.Stats()
	if s.Records != 3 || s.Bytes <= 0 || !s.OldestAt.Equal(es[0].AppendedAt) {
		t.Fatalf("Stats() = %+v, want 3 records, some bytes, OldestAt %v", s, es[0].AppendedAt)
	}
	ack(t, q, es[0].Seq)
	s2 := q.Stats()
	if s2.Records != 2 || s2.Bytes >= s.Bytes || !s2.OldestAt.Equal(es[1].AppendedAt) {
		t.Fatalf("Stats() after one ack = %+v, want 2 records, fewer bytes than %d, OldestAt %v", s2, s.Bytes, es[1].AppendedAt)
	}
	ack(t, q, es[2].Seq)
	if s := q.Stats(); s.Records != 0 || s.Bytes != 0 || !s.OldestAt.IsZero() {
		t.Fatalf("Stats() after draining = %+v", s)
	}
}

func testConcurrentAppenders(t *testing.T, q spool.Queue) {
	const appenders, each = 8, 50
	var wg sync.WaitGroup
	for g := range appenders {
		wg.Go(func() {
			for i := range each {
				if err := q.Append(context.Background(), Record(g*1000+i)); err != nil {
					t.Errorf("appender %d: %v", g, err)
					return
				}
			}
		})
	}
	wg.Wait()
	es := peek(t, q, appenders*each+1)
	if len(es) != appenders*each {
		t.Fatalf("queue holds %d entries, want %d", len(es), appenders*each)
	}
	next := make([]int, appenders)
	for k, e := range es {
		i := index(t, e.Record)
		g, n := i/1000, i%1000
		if n != next[g] {
			t.Fatalf("appender %d: record %d queued where %d was due", g, n, next[g])
		}
		next[g]++
		if k > 0 && e.Seq <= es[k-1].Seq {
			t.Fatalf("seqs not increasing: %d after %d", e.Seq, es[k-1].Seq)
		}
	}
}

func testClose(t *testing.T, q spool.Queue) {
	appendN(t, q, 0, 1)
	es := peek(t, q, 1)
	if err := q.Close(); err != nil {
		t.Fatal(err)
	}
	checks := map[string]error{
		"Append":     q.Append(context.Background(), Record(1)),
		"Ack":        q.Ack(es[0].Seq),
		"DeadLetter": q.DeadLetter(es[0], "closed"),
	}
	_, checks["Peek"] = q.Peek(context.Background(), 1)
	for name, err := range checks {
		if !errors.Is(err, spool.ErrClosed) {
			t.Errorf("%s after Close = %v, want ErrClosed", name, err)
		}
	}
}

func testTooLarge(t *testing.T, q spool.Queue) {
	recs := []event.Record{Record(0), Record(1), Record(2), Record(3), Record(4)}
	if err := q.Append(context.Background(), recs...); !errors.Is(err, spool.ErrTooLarge) {
		t.Fatalf("Append of 5 records into a queue of 4 = %v, want ErrTooLarge", err)
	}
	if n := q.Stats().Records; n != 0 {
		t.Fatalf("Stats().Records = %d after a refused append, want 0", n)
	}
}

func testReject(t *testing.T, q spool.Queue) {
	appendN(t, q, 0, 4)
	if err := q.Append(context.Background(), Record(4)); !errors.Is(err, spool.ErrFull) {
		t.Fatalf("Append into a full queue = %v, want ErrFull", err)
	}
	es := peek(t, q, 10)
	wantIndexes(t, es, 0, 1, 2, 3)
	ack(t, q, es[0].Seq)
	appendN(t, q, 5, 1)
	wantIndexes(t, peek(t, q, 10), 1, 2, 3, 5)
}

func testRejectAllOrNone(t *testing.T, q spool.Queue) {
	appendN(t, q, 0, 3)
	if err := q.Append(context.Background(), Record(3), Record(4)); !errors.Is(err, spool.ErrFull) {
		t.Fatalf("Append of 2 records with room for 1 = %v, want ErrFull", err)
	}
	wantIndexes(t, peek(t, q, 10), 0, 1, 2)
}

func testBlock(t *testing.T, q spool.Queue) {
	appendN(t, q, 0, 4)
	result := make(chan error, 1)
	go func() { result <- q.Append(context.Background(), Record(4)) }()
	es := peek(t, q, 10)
	wantIndexes(t, es, 0, 1, 2, 3)
	select {
	case err := <-result:
		t.Fatalf("Append into a full queue returned %v instead of blocking", err)
	default:
	}
	ack(t, q, es[0].Seq)
	select {
	case err := <-result:
		if err != nil {
			t.Fatalf("blocked Append = %v after Ack freed room", err)
		}
	case <-time.After(wait):
		t.Fatal("blocked Append did not return after Ack freed room")
	}
	wantIndexes(t, peek(t, q, 10), 1, 2, 3, 4)
}

func testBlockContext(t *testing.T, q spool.Queue) {
	appendN(t, q, 0, 4)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	err := q.Append(ctx, Record(4))
	if !errors.Is(err, spool.ErrFull) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Append into a full queue with a short deadline = %v, want ErrFull and DeadlineExceeded", err)
	}
	wantIndexes(t, peek(t, q, 10), 0, 1, 2, 3)
	// The abandoned wait must not hold room: after an Ack there is room
	// for exactly one more record.
	es := peek(t, q, 1)
	ack(t, q, es[0].Seq)
	appendN(t, q, 5, 1)
	wantIndexes(t, peek(t, q, 10), 1, 2, 3, 5)
}

func testCloseReleasesBlocked(t *testing.T, q spool.Queue) {
	appendN(t, q, 0, 4)
	result := make(chan error, 1)
	go func() { result <- q.Append(context.Background(), Record(4)) }()
	if err := q.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-result:
		if !errors.Is(err, spool.ErrClosed) {
			t.Fatalf("blocked Append after Close = %v, want ErrClosed", err)
		}
	case <-time.After(wait):
		t.Fatal("Close did not release a blocked Append")
	}
}
