package servicekit

import (
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"go.opentelemetry.io/otel/trace/noop"
)

// apiServer serves routes through the API middleware on a real loopback
// server.
func apiServer(t *testing.T, routes []Route) *httptest.Server {
	t.Helper()
	h, err := newAPIHandler("thing_service", routes, slog.New(slog.DiscardHandler), noop.NewTracerProvider().Tracer(""))
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(func() {
		srv.Close()
		http.DefaultClient.CloseIdleConnections()
	})
	return srv
}

// answer is what a client got.
type answer struct {
	status      int
	contentType string
	allow       string
	code        string
	message     string
	raw         string
}

// call sends method base+path with a small body and reads the answer.
func call(t *testing.T, base, method, path string) answer {
	t.Helper()
	req, err := http.NewRequest(method, base+path, strings.NewReader("{}"))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	a := answer{status: resp.StatusCode, contentType: resp.Header.Get("Content-Type"), allow: resp.Header.Get("Allow"), raw: string(raw)}
	var b errorBody
	if json.Unmarshal(raw, &b) == nil {
		a.code, a.message = b.Error.Code, b.Error.Message
	}
	return a
}

// errorCase is a request and the JSON error it must get.
type errorCase struct {
	name, method, path string
	status             int
	code, message      string
}

func TestAPIAnswersEveryErrorInJSON(t *testing.T) {
	thing := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "a thing") })
	routes := []Route{
		{Pattern: "GET /v1/things", Handler: thing},
		{Pattern: "POST /v1/plain-error", Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			http.Error(w, "name is required", http.StatusBadRequest)
		})},
		{Pattern: "GET /v1/panic", Handler: http.HandlerFunc(func(http.ResponseWriter, *http.Request) { panic("handler bug") })},
		{Pattern: "GET /v1/busy", Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			http.Error(w, "try later", http.StatusTooManyRequests)
		})},
	}
	// A service that registers on its own ServeMux (MuxRoutes) gets the
	// same answers from that mux.
	own := MuxRoutes(func(mux *http.ServeMux) { mux.Handle("GET /v1/things", thing) })
	common := []errorCase{
		{"unknown path", "GET", "/v1/nothing", 404, "not_found", "no endpoint GET /v1/nothing"},
		{"wrong method", "DELETE", "/v1/things", 405, "method_not_allowed", "DELETE is not allowed on /v1/things; allowed: GET, HEAD"},
	}
	servers := []struct {
		name  string
		srv   *httptest.Server
		cases []errorCase
	}{
		{"routes", apiServer(t, routes), append(common,
			errorCase{"http.Error in a handler", "POST", "/v1/plain-error", 400, "invalid_request", "name is required"},
			errorCase{"panic", "GET", "/v1/panic", 500, "internal_error", "internal error"},
			errorCase{"status without an httpjson code", "GET", "/v1/busy", 429, "too_many_requests", "try later"},
		)},
		{"service's own mux", apiServer(t, own), common},
	}
	for _, s := range servers {
		t.Run(s.name, func(t *testing.T) {
			for _, tc := range s.cases {
				a := call(t, s.srv.URL, tc.method, tc.path)
				if a.status != tc.status || a.contentType != "application/json" || a.code != tc.code || a.message != tc.message {
					t.Errorf("%s: %d %s %q, want %d application/json code %s message %q",
						tc.name, a.status, a.contentType, a.raw, tc.status, tc.code, tc.message)
				}
				if tc.status == http.StatusMethodNotAllowed && a.allow != "GET, HEAD" {
					t.Errorf("%s: Allow %q, want it kept", tc.name, a.allow)
				}
			}
			if a := call(t, s.srv.URL, "GET", "/v1/things"); a.status != 200 || a.raw != "a thing" {
				t.Errorf("a success of another type was changed: %d %q", a.status, a.raw)
			}
		})
	}
}

func TestJSONErrorsLeavesJSONErrorsAlone(t *testing.T) {
	const body = `{"error":{"code":"invalid_field","message":"name is required","field":"name"}}` + "\n"
	srv := httptest.NewServer(JSONErrors(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusBadRequest)
		_, _ = io.WriteString(w, body)
	})))
	defer srv.Close()
	if a := call(t, srv.URL, "POST", "/"); a.status != 400 || a.raw != body {
		t.Fatalf("%d %q, want the handler's own JSON error untouched", a.status, a.raw)
	}
}

func TestAdminAnswersErrorsInJSON(t *testing.T) {
	a := startApp(t, testEnv("file_service", newCluster(t)), nil)
	for _, tc := range []errorCase{
		{"unknown path", "GET", "/nothing", 404, "not_found", "no endpoint GET /nothing"},
		{"wrong method", "POST", "/readyz", 405, "method_not_allowed", "POST is not allowed on /readyz; allowed: GET, HEAD"},
	} {
		got := call(t, a.Endpoints().Admin, tc.method, tc.path)
		if got.status != tc.status || got.contentType != "application/json" || got.code != tc.code || got.message != tc.message {
			t.Errorf("%s: %d %s %q, want %d application/json code %s message %q",
				tc.name, got.status, got.contentType, got.raw, tc.status, tc.code, tc.message)
		}
	}
	http.DefaultClient.CloseIdleConnections()
}
