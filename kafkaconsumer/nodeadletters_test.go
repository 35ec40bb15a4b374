package kafkaconsumer

import (
	"context"
	"errors"
	"strconv"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/huleedu/huleedu/event"
)

// withoutDeadLetters is the startConsumer tweak of a program that only
// reads: no dead-letter publisher.
func withoutDeadLetters(o *Options) { o.DeadLetters = nil }

// waitDone waits until the consumer stopped on its own.
func waitDone(t *testing.T, c *Consumer) {
	t.Helper()
	select {
	case <-c.Done():
	case <-time.After(30 * time.Second):
		t.Fatal("the consumer did not stop within 30s")
	}
}

func TestConsumerWithoutDeadLettersStopsAtARecordThatKeepsFailing(t *testing.T) {
	c := newCluster(t)
	first, poison, after := newEnvelope(t, `{"n":1}`), newEnvelope(t, `{"n":2}`), newEnvelope(t, `{"n":3}`)
	cause := errors.New("database on fire")
	h := newHandled(func(env *event.Envelope, _ int) error {
		if env.EventID == poison.EventID {
			return cause
		}
		return nil
	})
	cons := startConsumer(t, c, "reader", h.handle, withoutDeadLetters)
	// One key, so one partition holds them in this order.
	recs := []*kgo.Record{envelopeRecord(t, topicA, first), envelopeRecord(t, topicA, poison), envelopeRecord(t, topicA, after)}
	for _, r := range recs {
		r.Key = []byte("one-partition")
	}
	produce(t, c, recs...)

	waitDone(t, cons)
	var ue *UnhandledError
	if err := cons.Err(); !errors.As(err, &ue) || !errors.Is(err, cause) {
		t.Fatalf("Err = %v, want an *UnhandledError wrapping the handler's error", err)
	}
	if ue.EventID != poison.EventID.String() || ue.Offset != 1 || ue.Attempts != 3 || ue.Reason != reasonHandlerFailed || ue.Topic != topicA {
		t.Errorf("UnhandledError = %+v, want event %s at offset 1 after 3 attempts", ue, poison.EventID)
	}
	if n := h.count(poison.EventID); n != 3 {
		t.Errorf("the failing handler ran %d times, want MaxAttempts (3)", n)
	}
	if n := h.count(after.EventID); n != 0 {
		t.Errorf("the record after the failing one was handled %d times: the consumer went past it", n)
	}
	if got := testutil.ToFloat64(cons.opts.Metrics.events.WithLabelValues(topicA, resultUnhandled)); got != 1 {
		t.Errorf("unhandled counter = %v, want 1", got)
	}
	if err := cons.Stop(testContext(t, 10*time.Second)); !errors.As(err, &ue) {
		t.Fatalf("Stop = %v, want it to report the record that stopped the consumer", err)
	}
	if dlq := readTopic(t, c, DeadLetterTopic(topicA)); len(dlq) != 0 {
		t.Fatalf("%d dead letters without a dead-letter publisher", len(dlq))
	}

	// Nothing was skipped: the group's next consumer begins at the
	// failed record, after the committed first one.
	fixed := newHandled(nil)
	startConsumer(t, c, "reader", fixed.handle, withoutDeadLetters)
	fixed.waitHandled(t, after.EventID)
	if fixed.count(first.EventID) != 0 || fixed.count(poison.EventID) != 1 {
		t.Fatalf("after a restart: first handled %d times, the failed record %d times; want 0 and 1",
			fixed.count(first.EventID), fixed.count(poison.EventID))
	}
}

func TestConsumerWithoutDeadLettersStopsAtOnceForUnfixableRecords(t *testing.T) {
	cases := []struct {
		name         string
		record       func(t *testing.T) *kgo.Record
		handlerErr   error
		wantReason   string
		wantAttempts int
	}{
		{"malformed envelope", func(*testing.T) *kgo.Record { return &kgo.Record{Topic: topicA, Value: []byte("not json")} },
			nil, reasonMalformed, 0},
		{"permanent handler error", func(t *testing.T) *kgo.Record { return envelopeRecord(t, topicA, newEnvelope(t, `{}`)) },
			Permanent(errors.New("payload does not decode")), reasonHandlerFailed, 1},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := newCluster(t)
			cons := startConsumer(t, c, "reader"+strconv.Itoa(i), func(context.Context, *event.Envelope) error {
				return tc.handlerErr
			}, withoutDeadLetters)
			produce(t, c, tc.record(t))
			waitDone(t, cons)
			var ue *UnhandledError
			if !errors.As(cons.Err(), &ue) || ue.Reason != tc.wantReason || ue.Attempts != tc.wantAttempts || ue.Offset != 0 {
				t.Fatalf("Err = %+v, want reason %s after %d attempts at offset 0", cons.Err(), tc.wantReason, tc.wantAttempts)
			}
		})
	}
}

func TestConsumerErrIsNilWhileRunningAndAfterAPlainStop(t *testing.T) {
	c := newCluster(t)
	h := newHandled(nil)
	cons := startConsumer(t, c, "reader", h.handle, withoutDeadLetters)
	env := newEnvelope(t, `{}`)
	produce(t, c, envelopeRecord(t, topicA, env))
	h.waitHandled(t, env.EventID)
	if err := cons.Err(); err != nil {
		t.Fatalf("Err while running = %v", err)
	}
	if err := cons.Stop(testContext(t, 10*time.Second)); err != nil {
		t.Fatalf("Stop = %v", err)
	}
	select {
	case <-cons.Done():
	default:
		t.Fatal("Done is not closed after Stop")
	}
	if err := cons.Err(); err != nil {
		t.Fatalf("Err after Stop = %v", err)
	}
}
