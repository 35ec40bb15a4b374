package llmclient_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/huleedu/huleedu/resilience"
	"github.com/huleedu/huleedu/services/contracts"
	"github.com/huleedu/huleedu/services/llmprovider"
	"github.com/huleedu/huleedu/services/llmprovider/llmclient"
)

// service runs the real API handler of the LLM Provider Service on the
// local provider, with a queue of two requests and no workers started.
func service(t *testing.T) *llmclient.Client {
	t.Helper()
	q, _ := llmprovider.NewMemoryQueue(llmprovider.MemoryQueueOptions{MaxRequests: 2, MaxBytes: 1 << 20})
	d, err := llmprovider.NewDispatcher(llmprovider.DispatcherConfig{Providers: []llmprovider.Provider{llmprovider.LocalProvider{}},
		Breakers: resilience.NewRegistry(resilience.Settings{})})
	if err != nil {
		t.Fatal(err)
	}
	svc, err := llmprovider.New(llmprovider.Config{QueueFullRetryAfter: 7 * time.Second}, llmprovider.Deps{Bus: nopBus{}, Queue: q, Dispatcher: d})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	svc.Routes(mux)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	c, err := llmclient.New(srv.Client(), srv.URL+"/")
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func request(id string) contracts.LLMComparisonRequestV1 {
	return contracts.LLMComparisonRequestV1{RequestID: id,
		EssayA: contracts.LLMEssay{ID: "a", Text: "one"}, EssayB: contracts.LLMEssay{ID: "b", Text: "two"}}
}

func TestSubmitReturnsTheQueueIDAndIsIdempotent(t *testing.T) {
	c := service(t)
	a, err := c.Submit(context.Background(), request("r-1"))
	if err != nil || a.QueueID != llmprovider.QueueID("r-1") || a.Status != contracts.LLMStatusQueued {
		t.Fatalf("Submit = %+v, %v", a, err)
	}
	again, err := c.Submit(context.Background(), request("r-1"))
	if err != nil || again.QueueID != a.QueueID {
		t.Errorf("repeated Submit = %+v, %v; want the same queue id", again, err)
	}
}

func TestSubmitErrorsSayWhetherToRetry(t *testing.T) {
	c := service(t)
	bad := request("r-bad")
	bad.EssayB.ID = "a"
	if _, err := c.Submit(context.Background(), bad); !errors.Is(err, llmclient.ErrRejected) || !strings.Contains(err.Error(), "essay_b.id") {
		t.Errorf("invalid request: %v, want ErrRejected naming the field", err)
	}
	for _, id := range []string{"r-1", "r-2"} {
		if _, err := c.Submit(context.Background(), request(id)); err != nil {
			t.Fatal(err)
		}
	}
	_, err := c.Submit(context.Background(), request("r-3"))
	var full *llmclient.QueueFullError
	if !errors.As(err, &full) || !errors.Is(err, llmclient.ErrQueueFull) || full.RetryAfter != 7*time.Second {
		t.Errorf("full queue: %v, want a QueueFullError with retry after 7s", err)
	}
}

func TestSubmitReportsOtherAnswersAndTransportErrors(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "boom", http.StatusInternalServerError)
	}))
	c, _ := llmclient.New(srv.Client(), srv.URL)
	var se *llmclient.StatusError
	if _, err := c.Submit(context.Background(), request("r-1")); !errors.As(err, &se) || se.StatusCode != 500 {
		t.Errorf("500: %v", err)
	}
	srv.Close()
	if _, err := c.Submit(context.Background(), request("r-1")); err == nil || errors.Is(err, llmclient.ErrRejected) {
		t.Errorf("server gone: %v, want a retriable error", err)
	}
	if _, err := llmclient.New(http.DefaultClient, "localhost:7008"); err == nil {
		t.Error("New accepted a URL without scheme")
	}
}
