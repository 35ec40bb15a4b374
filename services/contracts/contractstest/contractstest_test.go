package contractstest_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/huleedu/huleedu/event"
	"github.com/huleedu/huleedu/services/contracts"
	"github.com/huleedu/huleedu/services/contracts/contractstest"
)

func publish(t *testing.T, bus *contractstest.Bus, typ string, identity ...string) {
	t.Helper()
	pub, _ := contracts.NewPublisher(bus, "test", nil)
	if err := pub.Publish(context.Background(), contracts.Message{EventType: typ, Identity: identity, Data: map[string]string{"id": identity[0]}}); err != nil {
		t.Fatal(err)
	}
}

func TestBusRecordsOnlyAcceptedPublishes(t *testing.T) {
	bus := contractstest.NewBus()
	bus.FailNext(1, errors.New("down"))
	pub, _ := contracts.NewPublisher(bus, "test", nil)
	m := contracts.Message{EventType: event.TypeClassCreatedV1, Identity: []string{"c"}, Data: 1}
	if err := pub.Publish(context.Background(), m); err == nil {
		t.Fatal("FailNext did not fail the publish")
	}
	if err := pub.Publish(context.Background(), m); err != nil {
		t.Fatal(err)
	}
	if bus.Count(event.TypeClassCreatedV1) != 1 {
		t.Errorf("recorded %d, want only the accepted publish", bus.Count(event.TypeClassCreatedV1))
	}
	_ = bus.Close(context.Background())
	if err := pub.Publish(context.Background(), m); !errors.Is(err, contractstest.ErrBusClosed) {
		t.Errorf("after Close: %v", err)
	}
}

func TestRouterDeliversOncePerGroupAndFollowsChains(t *testing.T) {
	bus := contractstest.NewBus()
	r := contractstest.NewRouter(bus)
	var a, b int
	r.Subscribe("a", map[string]contracts.HandlerFunc{
		event.TopicClassCreatedV1: func(ctx context.Context, env *event.Envelope) error {
			a++
			publish(t, bus, event.TypeStudentCreatedV1, "s") // same id every time
			return nil
		},
	})
	r.Subscribe("b", map[string]contracts.HandlerFunc{
		event.TopicStudentCreatedV1: func(context.Context, *event.Envelope) error { b++; return nil },
	})
	publish(t, bus, event.TypeClassCreatedV1, "c")
	publish(t, bus, event.TypeClassCreatedV1, "c") // a duplicate
	if _, err := r.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	if a != 1 || b != 1 {
		t.Errorf("handler calls a=%d b=%d, want 1 and 1 (duplicates dropped by event id)", a, b)
	}
}

func TestRouterRetriesFailingHandlerThenGivesUp(t *testing.T) {
	bus := contractstest.NewBus()
	r := contractstest.NewRouter(bus)
	r.MaxAttempts = 3
	calls := 0
	r.Subscribe("g", map[string]contracts.HandlerFunc{
		event.TopicClassCreatedV1: func(context.Context, *event.Envelope) error {
			calls++
			if calls < 2 {
				return errors.New("transient")
			}
			return nil
		},
		event.TopicStudentCreatedV1: func(context.Context, *event.Envelope) error { return errors.New("always") },
	})
	publish(t, bus, event.TypeClassCreatedV1, "c")
	publish(t, bus, event.TypeStudentCreatedV1, "s")
	_, err := r.Run(context.Background())
	if calls != 2 {
		t.Errorf("transiently failing handler called %d times, want 2", calls)
	}
	if err == nil || !strings.Contains(err.Error(), "3 attempts") {
		t.Errorf("err = %v, want the always-failing delivery reported after 3 attempts", err)
	}
}

func TestRouterDuplicatesBypassDedup(t *testing.T) {
	bus := contractstest.NewBus()
	r := contractstest.NewRouter(bus)
	r.Duplicates = 2
	calls := 0
	r.Subscribe("g", map[string]contracts.HandlerFunc{
		event.TopicClassCreatedV1: func(context.Context, *event.Envelope) error { calls++; return nil },
	})
	publish(t, bus, event.TypeClassCreatedV1, "c")
	if _, err := r.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	if calls != 3 {
		t.Errorf("calls = %d, want 3 (1 + 2 duplicates)", calls)
	}
}
