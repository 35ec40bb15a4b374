package resilience

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
)

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// statusServer answers every request with the status in its path, e.g. /503.
func statusServer(t *testing.T) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		code, err := strconv.Atoi(strings.TrimPrefix(r.URL.Path, "/"))
		if err != nil {
			code = http.StatusOK
		}
		w.WriteHeader(code)
		_, _ = io.WriteString(w, "body of "+r.URL.Path)
	}))
	t.Cleanup(srv.Close)
	return srv
}

func TestTransportCountsStatusCodes(t *testing.T) {
	srv := statusServer(t)
	tests := []struct {
		status    int
		wantState State
	}{
		{http.StatusInternalServerError, StateOpen},
		{http.StatusBadGateway, StateOpen},
		{http.StatusServiceUnavailable, StateOpen},
		{http.StatusTooManyRequests, StateOpen},
		{http.StatusNotFound, StateClosed},
		{http.StatusBadRequest, StateClosed},
		{http.StatusOK, StateClosed},
		{http.StatusConflict, StateClosed},
	}
	for _, tt := range tests {
		t.Run(http.StatusText(tt.status), func(t *testing.T) {
			cb, _ := newBreaker(t, Settings{FailureThreshold: 1})
			client := &http.Client{Transport: NewTransport(cb, nil)}
			resp, err := client.Get(srv.URL + "/" + strconv.Itoa(tt.status))
			if err != nil {
				t.Fatalf("GET: %v (a failed status must still return the response)", err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tt.status || !strings.HasPrefix(string(body), "body of") {
				t.Fatalf("response %d %q not returned intact", resp.StatusCode, body)
			}
			wantState(t, cb, tt.wantState)
		})
	}
}

func TestTransportRecordsStatusInLastFailure(t *testing.T) {
	srv := statusServer(t)
	cb, _ := newBreaker(t, Settings{})
	client := &http.Client{Transport: NewTransport(cb, nil)}
	resp, err := client.Get(srv.URL + "/503")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if lf := cb.Snapshot().LastFailure; lf == nil || lf.Error != "resilience: HTTP response 503 Service Unavailable" {
		t.Fatalf("LastFailure = %+v", lf)
	}
}

func TestTransportErrorIsFailure(t *testing.T) {
	cb, _ := newBreaker(t, Settings{FailureThreshold: 1})
	down := roundTripFunc(func(*http.Request) (*http.Response, error) { return nil, errors.New("connection refused") })
	client := &http.Client{Transport: NewTransport(cb, down)}
	if _, err := client.Get("http://127.0.0.1:1/"); err == nil {
		t.Fatal("want the transport error")
	}
	wantState(t, cb, StateOpen)
}

func TestTransportIgnoresRequestsCanceledByCaller(t *testing.T) {
	cb, _ := newBreaker(t, Settings{FailureThreshold: 1})
	ctx, cancel := context.WithCancel(context.Background())
	base := roundTripFunc(func(r *http.Request) (*http.Response, error) {
		cancel()
		<-r.Context().Done()
		return nil, r.Context().Err()
	})
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://127.0.0.1:1/", nil)
	if _, err := (&http.Client{Transport: NewTransport(cb, base)}).Do(req); !errors.Is(err, context.Canceled) {
		t.Fatalf("Do = %v, want context.Canceled", err)
	}
	wantState(t, cb, StateClosed)
	if got := cb.Snapshot().Totals; got.Ignored != 1 || got.Failures != 0 {
		t.Fatalf("Totals = %+v, want one ignored", got)
	}
}

type trackingBody struct {
	io.Reader
	closed atomic.Bool
}

func (b *trackingBody) Close() error { b.closed.Store(true); return nil }

func TestTransportRejectionWrapsErrCircuitOpenThroughClientAndClosesBody(t *testing.T) {
	cb, _ := openBreaker(t, Settings{Name: "essays"})
	var sent atomic.Bool
	base := roundTripFunc(func(*http.Request) (*http.Response, error) { sent.Store(true); return nil, errors.New("unreachable") })
	client := &http.Client{Transport: NewTransport(cb, base)}
	body := &trackingBody{Reader: strings.NewReader(`{"essay":1}`)}
	req, _ := http.NewRequest(http.MethodPost, "http://127.0.0.1:1/essays", body)
	_, err := client.Do(req)
	var ue *url.Error
	var oe *OpenError
	if !errors.As(err, &ue) || !errors.Is(err, ErrCircuitOpen) || !errors.As(err, &oe) || oe.Name != "essays" {
		t.Fatalf("client error %v: want *url.Error wrapping an *OpenError", err)
	}
	if sent.Load() {
		t.Fatal("rejected request was sent")
	}
	if !body.closed.Load() {
		t.Fatal("request body not closed on rejection")
	}
}

func TestTransportCustomIsFailure(t *testing.T) {
	srv := statusServer(t)
	cb, _ := newBreaker(t, Settings{FailureThreshold: 1})
	tr := NewTransport(cb, nil)
	tr.IsFailure = func(resp *http.Response, err error) bool { return err != nil || resp.StatusCode == http.StatusNotFound }
	client := &http.Client{Transport: tr}
	resp, err := client.Get(srv.URL + "/503")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	wantState(t, cb, StateClosed)
	resp, err = client.Get(srv.URL + "/404")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	wantState(t, cb, StateOpen)
}

func TestTransportWithoutBreakerFailsAndClosesBody(t *testing.T) {
	body := &trackingBody{Reader: strings.NewReader("x")}
	req, _ := http.NewRequest(http.MethodPost, "http://127.0.0.1:1/", body)
	if _, err := (&Transport{}).RoundTrip(req); err == nil || !body.closed.Load() {
		t.Fatalf("RoundTrip = %v, body closed %v", err, body.closed.Load())
	}
}

func TestTransportHalfOpenProbeClosesCircuit(t *testing.T) {
	srv := statusServer(t)
	cb, _ := halfOpenBreaker(t, Settings{SuccessThreshold: 1})
	client := &http.Client{Transport: NewTransport(cb, nil)}
	resp, err := client.Get(srv.URL + "/200")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	wantState(t, cb, StateClosed)
}

func TestTransportPanicInBaseCountsAsFailure(t *testing.T) {
	cb, _ := newBreaker(t, Settings{FailureThreshold: 1})
	base := roundTripFunc(func(*http.Request) (*http.Response, error) { panic("transport bug") })
	req, _ := http.NewRequest(http.MethodGet, "http://127.0.0.1:1/", nil)
	func() {
		defer func() { _ = recover() }()
		NewTransport(cb, base).RoundTrip(req)
	}()
	wantState(t, cb, StateOpen)
}
