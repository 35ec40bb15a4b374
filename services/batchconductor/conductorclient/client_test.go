package conductorclient_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"go.uber.org/goleak"

	"github.com/huleedu/huleedu/resilience"
	"github.com/huleedu/huleedu/services/batchconductor"
	"github.com/huleedu/huleedu/services/batchconductor/conductorclient"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func serve(t *testing.T) *httptest.Server {
	t.Helper()
	mux := http.NewServeMux()
	batchconductor.New(batchconductor.Deps{}).Routes(mux)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

func TestClientResolvesAgainstTheService(t *testing.T) {
	srv := serve(t)
	c, err := conductorclient.New(srv.Client(), srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	phases, err := c.Resolve(context.Background(), "spellcheck")
	if err != nil || !slices.Equal(phases, []string{"spellcheck"}) {
		t.Fatalf("Resolve = %v, %v", phases, err)
	}
	_, err = c.Resolve(context.Background(), "nope")
	if !errors.Is(err, conductorclient.ErrUnknownPipeline) || !strings.Contains(err.Error(), "known pipelines") {
		t.Errorf("unknown pipeline: %v", err)
	}
}

func TestClientClassifiesBadAnswers(t *testing.T) {
	tests := []struct {
		name   string
		status int
		body   string
		check  func(error) bool
	}{
		{"server error", 502, "bad gateway", func(err error) bool {
			se, ok := errors.AsType[*conductorclient.StatusError](err)
			return ok && se.StatusCode == 502
		}},
		{"not JSON", 200, "<html>", func(err error) bool { return errors.Is(err, conductorclient.ErrBadResponse) }},
		{"no phases", 200, `{"phases":[]}`, func(err error) bool { return errors.Is(err, conductorclient.ErrBadResponse) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.WriteHeader(tt.status)
				_, _ = w.Write([]byte(tt.body))
			}))
			defer srv.Close()
			c, _ := conductorclient.New(srv.Client(), srv.URL)
			if _, err := c.Resolve(context.Background(), "full"); !tt.check(err) {
				t.Errorf("err = %v", err)
			}
		})
	}
}

func TestClientThroughOpenBreakerFailsFastWithOpenError(t *testing.T) {
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		w.WriteHeader(http.StatusServiceUnavailable)
	}))
	defer srv.Close()
	cb, _ := resilience.NewCircuitBreaker(resilience.Settings{Name: "bos.batch_conductor", FailureThreshold: 1})
	c, _ := conductorclient.New(&http.Client{Transport: resilience.NewTransport(cb, srv.Client().Transport)}, srv.URL)
	_, _ = c.Resolve(context.Background(), "full")
	_, err := c.Resolve(context.Background(), "full")
	if _, ok := errors.AsType[*resilience.OpenError](err); !ok || !errors.Is(err, resilience.ErrCircuitOpen) {
		t.Fatalf("err = %v, want an *OpenError", err)
	}
	if n := calls.Load(); n != 1 {
		t.Errorf("conductor called %d times, want 1", n)
	}
}

func TestNewRejectsBadArguments(t *testing.T) {
	if _, err := conductorclient.New(nil, "http://x"); err == nil {
		t.Error("nil client accepted")
	}
	if _, err := conductorclient.New(http.DefaultClient, "x:1"); err == nil {
		t.Error("relative base URL accepted")
	}
}
