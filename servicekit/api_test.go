package servicekit

import (
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"go.opentelemetry.io/otel/trace/noop"

	"github.com/huleedu/huleedu/errctx"
)

// TestAPIGivesEveryRequestOneCorrelationID checks the middleware's choice of
// correlation id: the caller's (trimmed), or a new one when the caller sent
// none or one too long to carry into every log line and event; the handler's
// context and the response header agree on it.
func TestAPIGivesEveryRequestOneCorrelationID(t *testing.T) {
	var inHandler string
	h, err := newAPIHandler("thing_service", []Route{{Pattern: "GET /v1/things", Handler: http.HandlerFunc(
		func(_ http.ResponseWriter, r *http.Request) { inHandler = errctx.CorrelationID(r.Context()) })}},
		slog.New(slog.DiscardHandler), noop.NewTracerProvider().Tracer(""))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, header string
		keep         bool // the caller's id (trimmed) is kept
	}{
		{"caller's id", "corr-1", true},
		{"caller's id with spaces", "  corr-1 ", true},
		{"none", "", false},
		{"too long", strings.Repeat("x", maxCorrelationIDLen+1), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			inHandler = ""
			req := httptest.NewRequest(http.MethodGet, "/v1/things", nil)
			if tt.header != "" {
				req.Header.Set(HeaderCorrelationID, tt.header)
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			got := rec.Header().Get(HeaderCorrelationID)
			if got == "" || got != inHandler {
				t.Fatalf("response header %q, handler's context %q: want one non-empty id", got, inHandler)
			}
			if kept := got == strings.TrimSpace(tt.header); kept != tt.keep {
				t.Errorf("id %q for header %q: kept the caller's = %v, want %v", got, tt.header, kept, tt.keep)
			}
		})
	}
}
