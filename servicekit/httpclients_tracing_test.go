package servicekit

import (
	"net/http"
	"testing"

	"go.opentelemetry.io/otel"
)

// okTransport answers every request with an empty 200, without I/O.
type okTransport struct{}

func (okTransport) RoundTrip(*http.Request) (*http.Response, error) {
	return &http.Response{StatusCode: http.StatusOK, Body: http.NoBody}, nil
}

// BenchmarkTracingTransportOff measures what the client span costs a
// request when no tracer provider is installed (tracing off: the global
// default, as observability.SetupTracing leaves it without OTEL_*
// settings): the transport's own overhead over calling next directly.
func BenchmarkTracingTransportOff(b *testing.B) {
	req, _ := http.NewRequest(http.MethodGet, "http://127.0.0.1:1/v1/content/1", nil)
	for _, bc := range []struct {
		name string
		rt   http.RoundTripper
	}{
		{"direct", okTransport{}},
		{"traced", tracingTransport{tracer: otel.Tracer(tracerName), dependency: "file_service", next: okTransport{}}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				resp, err := bc.rt.RoundTrip(req)
				if err != nil {
					b.Fatal(err)
				}
				resp.Body.Close()
			}
		})
	}
}
