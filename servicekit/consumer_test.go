package servicekit

import (
	"context"
	"sync"
	"testing"
	"time"

	"go.uber.org/fx"

	"github.com/huleedu/huleedu/event"
	"github.com/huleedu/huleedu/kafkabus"
	"github.com/huleedu/huleedu/kafkaconsumer"
)

// storeTx is what recordingStore hands its handlers, as a database store
// hands them its transaction.
type storeTx struct{}

// recordingStore is a service's own IdempotencyStore: it records the
// keys it was asked about and runs every handler inside its Process.
type recordingStore struct {
	mu   sync.Mutex
	keys []kafkaconsumer.EventKey
}

func (s *recordingStore) Process(ctx context.Context, key kafkaconsumer.EventKey, handle func(context.Context) error) (bool, error) {
	s.mu.Lock()
	s.keys = append(s.keys, key)
	s.mu.Unlock()
	return false, handle(context.WithValue(ctx, storeTx{}, "tx-1"))
}

// A service with a database replaces the in-memory store with its own,
// so its handlers run inside the store's transaction.
func TestServiceReplacesTheIdempotencyStore(t *testing.T) {
	c := newCluster(t)
	store := &recordingStore{}
	inTx := make(chan any, 1)
	var bus kafkabus.Bus
	module := fx.Options(
		fx.Decorate(func(kafkaconsumer.IdempotencyStore) kafkaconsumer.IdempotencyStore { return store }),
		AsSubscriptions(func() []Subscription {
			return []Subscription{{Topic: topicA, Handler: func(ctx context.Context, _ *event.Envelope) error {
				inTx <- ctx.Value(storeTx{})
				return nil
			}}}
		}),
		fx.Populate(&bus),
	)
	startApp(t, testEnv("thing_service", c), module)
	env := newEnvelope(t, `{}`)
	if err := bus.Publish(testContext(t, 10*time.Second), topicA, "k", env); err != nil {
		t.Fatal(err)
	}
	select {
	case tx := <-inTx:
		if tx != "tx-1" {
			t.Fatalf("the handler ran outside the service's store (its context holds %v)", tx)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the event was not handled")
	}
	store.mu.Lock()
	defer store.mu.Unlock()
	want := kafkaconsumer.EventKey{Consumer: "thing_service", EventID: env.EventID.String()}
	if len(store.keys) != 1 || store.keys[0] != want {
		t.Fatalf("the store was asked about %v, want %v (the consumer group and the event id)", store.keys, want)
	}
}
