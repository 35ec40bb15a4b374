package contentclient_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"

	"go.uber.org/goleak"

	"github.com/huleedu/huleedu/resilience"
	"github.com/huleedu/huleedu/services/fileservice/contentclient"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func server(t *testing.T, h http.HandlerFunc) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv
}

func TestFetchReturnsText(t *testing.T) {
	srv := server(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/v1/content/c-1" {
			http.NotFound(w, r)
			return
		}
		_, _ = w.Write([]byte("An essay."))
	})
	c, err := contentclient.New(srv.Client(), srv.URL+"/")
	if err != nil {
		t.Fatal(err)
	}
	text, err := c.Fetch(context.Background(), "c-1")
	if err != nil || text != "An essay." {
		t.Fatalf("Fetch = %q, %v", text, err)
	}
}

func TestFetchClassifiesFailures(t *testing.T) {
	tests := []struct {
		name    string
		status  int
		body    string
		check   func(error) bool
		wantMsg string
	}{
		{"404 is not found", http.StatusNotFound, `{"error":{}}`, func(err error) bool { return errors.Is(err, contentclient.ErrNotFound) }, "ErrNotFound"},
		{"500 is a status error", http.StatusInternalServerError, "boom", func(err error) bool {
			se, ok := errors.AsType[*contentclient.StatusError](err)
			return ok && se.StatusCode == 500 && se.Body == "boom"
		}, "*StatusError 500"},
		{"binary answer is invalid content", http.StatusOK, "\xff\xfe", func(err error) bool { return errors.Is(err, contentclient.ErrInvalidContent) }, "ErrInvalidContent"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := server(t, func(w http.ResponseWriter, r *http.Request) {
				w.WriteHeader(tt.status)
				_, _ = w.Write([]byte(tt.body))
			})
			c, _ := contentclient.New(srv.Client(), srv.URL)
			_, err := c.Fetch(context.Background(), "c-1")
			if !tt.check(err) {
				t.Errorf("err = %v, want %s", err, tt.wantMsg)
			}
		})
	}
}

func TestFetchThroughOpenBreakerFailsFastWithErrCircuitOpen(t *testing.T) {
	var calls atomic.Int32
	srv := server(t, func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		w.WriteHeader(http.StatusServiceUnavailable)
	})
	cb, err := resilience.NewCircuitBreaker(resilience.Settings{Name: "spellchecker.file_service", FailureThreshold: 2})
	if err != nil {
		t.Fatal(err)
	}
	hc := &http.Client{Transport: resilience.NewTransport(cb, srv.Client().Transport)}
	c, _ := contentclient.New(hc, srv.URL)
	for range 2 {
		if _, err := c.Fetch(context.Background(), "c-1"); err == nil {
			t.Fatal("Fetch from a failing server succeeded")
		}
	}
	_, err = c.Fetch(context.Background(), "c-1")
	if !errors.Is(err, resilience.ErrCircuitOpen) {
		t.Fatalf("third Fetch: %v, want ErrCircuitOpen", err)
	}
	if n := calls.Load(); n != 2 {
		t.Errorf("server called %d times, want 2 (the open breaker must not call it)", n)
	}
}

func TestNewRejectsBadArguments(t *testing.T) {
	for _, base := range []string{"", "localhost:8080", "ftp://host", "http://"} {
		if _, err := contentclient.New(http.DefaultClient, base); err == nil {
			t.Errorf("New(%q) accepted a bad base URL", base)
		}
	}
	if _, err := contentclient.New(nil, "http://host"); err == nil {
		t.Error("New accepted a nil client")
	}
}
