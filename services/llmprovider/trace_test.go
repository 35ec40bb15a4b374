package llmprovider_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"

	"go.opentelemetry.io/otel/trace"

	"github.com/huleedu/huleedu/event"
	"github.com/huleedu/huleedu/services/contracts/contractstest"
	"github.com/huleedu/huleedu/services/llmprovider"
)

// traceBus records the trace of the context each publish ran in.
type traceBus struct {
	*contractstest.Bus
	traces chan trace.TraceID
}

func (b *traceBus) Publish(ctx context.Context, topic, key string, env *event.Envelope) error {
	b.traces <- trace.SpanContextFromContext(ctx).TraceID()
	return b.Bus.Publish(ctx, topic, key, env)
}

func TestOutcomeIsPublishedInTheTraceOfTheRequestThatQueuedIt(t *testing.T) {
	q, _ := llmprovider.NewMemoryQueue(llmprovider.MemoryQueueOptions{MaxRequests: 10, MaxBytes: 1 << 20})
	x := newDispatch(t, []llmprovider.Provider{llmprovider.LocalProvider{}}, nil)
	bus := &traceBus{Bus: contractstest.NewBus(), traces: make(chan trace.TraceID, 1)}
	svc, err := llmprovider.New(llmprovider.Config{}, llmprovider.Deps{Bus: bus, Queue: q, Dispatcher: x.d})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	svc.Routes(mux)
	raw, _ := json.Marshal(comparisonRequest("r-1"))
	req := httptest.NewRequest(http.MethodPost, "/v1/comparison", bytes.NewReader(raw))
	req.Header.Set("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
	rec := httptest.NewRecorder()
	mux.ServeHTTP(rec, req)
	if rec.Code != http.StatusAccepted {
		t.Fatalf("POST = %d %s", rec.Code, rec.Body)
	}
	if err := svc.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = svc.Stop(context.Background()) }()
	if got := <-bus.traces; got.String() != "4bf92f3577b34da6a3ce929d0e0e4736" {
		t.Errorf("the result was published in trace %s, want the request's", got)
	}
}
