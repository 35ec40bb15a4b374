package contractstest

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"

	"github.com/huleedu/huleedu/event"
)

// ErrBusClosed is returned by Publish after Close.
var ErrBusClosed = errors.New("contractstest: bus closed")

// Published is one envelope the Bus accepted.
type Published struct {
	Topic    string
	Key      string
	Envelope *event.Envelope
}

// Bus is an in-memory kafkabus.Bus that records every accepted publish in
// order. It is safe for concurrent use.
type Bus struct {
	mu        sync.Mutex
	published []Published
	failures  int
	failErr   error
	failWhen  func(topic string, env *event.Envelope) error
	closed    bool
}

// NewBus returns an empty Bus.
func NewBus() *Bus { return &Bus{} }

// Publish records env, or fails as FailNext or FailWhen say. A failed
// publish records nothing (the bus contract: an error means not accepted).
func (b *Bus) Publish(ctx context.Context, topic, key string, env *event.Envelope) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return ErrBusClosed
	}
	if b.failures > 0 {
		b.failures--
		return b.failErr
	}
	if b.failWhen != nil {
		if err := b.failWhen(topic, env); err != nil {
			return err
		}
	}
	b.published = append(b.published, Published{Topic: topic, Key: key, Envelope: env})
	return nil
}

// Close makes later publishes fail with ErrBusClosed.
func (b *Bus) Close(context.Context) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.closed = true
	return nil
}

// FailNext makes the next n publishes fail with err.
func (b *Bus) FailNext(n int, err error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.failures, b.failErr = n, err
}

// FailWhen makes every publish for which fn returns an error fail with that
// error; nil fn removes the rule.
func (b *Bus) FailWhen(fn func(topic string, env *event.Envelope) error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.failWhen = fn
}

// All returns every accepted publish, in order.
func (b *Bus) All() []Published {
	b.mu.Lock()
	defer b.mu.Unlock()
	return slices.Clone(b.published)
}

// Envelopes returns the accepted envelopes of eventType, in order.
func (b *Bus) Envelopes(eventType string) []*event.Envelope {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []*event.Envelope
	for _, p := range b.published {
		if p.Envelope.EventType == eventType {
			out = append(out, p.Envelope)
		}
	}
	return out
}

// Count returns how many envelopes of eventType were accepted.
func (b *Bus) Count(eventType string) int { return len(b.Envelopes(eventType)) }

// Types returns the event types of every accepted publish, in order.
func (b *Bus) Types() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	out := make([]string, len(b.published))
	for i, p := range b.published {
		out[i] = p.Envelope.EventType
	}
	return out
}

// Reset forgets every recorded publish and failure rule.
func (b *Bus) Reset() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.published, b.failures, b.failErr, b.failWhen = nil, 0, nil, nil
}

// Payloads decodes the data of every accepted envelope of eventType as T,
// failing the test on a decode error.
func Payloads[T any](t testing.TB, b *Bus, eventType string) []T {
	t.Helper()
	var out []T
	for _, env := range b.Envelopes(eventType) {
		v, err := event.Decode[T](env)
		if err != nil {
			t.Fatalf("decode %s %s: %v", eventType, env.EventID, err)
		}
		out = append(out, v)
	}
	return out
}
