package event

import (
	"context"
	"errors"
	"strings"
	"testing"

	"go.opentelemetry.io/otel/trace"
)

func spanContext(t testing.TB) trace.SpanContext {
	t.Helper()
	tid, _ := trace.TraceIDFromHex("4bf92f3577b34da6a3ce929d0e0e4736")
	sid, _ := trace.SpanIDFromHex("00f067aa0ba902b7")
	sc := trace.NewSpanContext(trace.SpanContextConfig{TraceID: tid, SpanID: sid, TraceFlags: trace.FlagsSampled})
	if !sc.IsValid() {
		t.Fatal("test span context is invalid")
	}
	return sc
}

func TestRecordCarriesEnvelopeAndHeaders(t *testing.T) {
	env := goldenEnvelope(t)
	rec, err := env.Record(TopicEssayContentProvisionedV1, "essay-1")
	if err != nil {
		t.Fatal(err)
	}
	if rec.Topic != TopicEssayContentProvisionedV1 || string(rec.Key) != "essay-1" {
		t.Errorf("topic/key = %q/%q", rec.Topic, rec.Key)
	}
	if string(rec.Value) != goldenJSON {
		t.Errorf("value is not the envelope JSON:\n%s", rec.Value)
	}
	for k, want := range map[string]string{
		HeaderEventID:       goldenID.String(),
		HeaderEventType:     TypeEssayContentProvisionedV1,
		HeaderCorrelationID: "batch-7",
	} {
		if got := string(rec.Header(k)); got != want {
			t.Errorf("header %s = %q, want %q", k, got, want)
		}
	}
	if rec.Header(HeaderTraceParent) != nil {
		t.Error("traceparent without a span")
	}
}

func TestRecordWithoutKeyHasNilKey(t *testing.T) {
	rec, err := goldenEnvelope(t).Record("t", "")
	if err != nil || rec.Key != nil {
		t.Errorf("Record = %q, %v; want nil key", rec.Key, err)
	}
}

func TestRecordOmitsEmptyCorrelationHeader(t *testing.T) {
	env := goldenEnvelope(t)
	env.CorrelationID = ""
	rec, err := env.Record("t", "k")
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range rec.Headers {
		if h.Key == HeaderCorrelationID {
			t.Errorf("empty correlation id still sent as header %q", h.Value)
		}
	}
}

func TestRecordRejectsInvalidInput(t *testing.T) {
	for _, tc := range []struct {
		name      string
		env       func() *Envelope
		topic     string
		wantEnvel bool
		wantText  string
	}{
		{"empty topic", func() *Envelope { return goldenEnvelope(t) }, "", false, "topic is empty"},
		{"nil envelope", func() *Envelope { return nil }, "t", true, "nil"},
		{"invalid envelope", func() *Envelope { e := goldenEnvelope(t); e.SourceService = ""; return e }, "t", true, "source_service"},
		{"metadata that does not encode", func() *Envelope {
			e := goldenEnvelope(t)
			e.Metadata = map[string]any{"c": make(chan int)}
			return e
		}, "t", true, "encode envelope"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := tc.env().Record(tc.topic, "k")
			if !errors.Is(err, ErrInvalidRecord) {
				t.Fatalf("err = %v, want ErrInvalidRecord", err)
			}
			if errors.Is(err, ErrInvalidEnvelope) != tc.wantEnvel {
				t.Errorf("errors.Is(ErrInvalidEnvelope) = %v, want %v", !tc.wantEnvel, tc.wantEnvel)
			}
			if !strings.Contains(err.Error(), tc.wantText) {
				t.Errorf("error %q does not mention %q", err, tc.wantText)
			}
		})
	}
}

func TestRecordContextAddsTraceparentOnlyWithValidSpan(t *testing.T) {
	env := goldenEnvelope(t)
	for _, tc := range []struct {
		name string
		ctx  context.Context
		want string
	}{
		{"no span", context.Background(), ""},
		{"invalid span context", trace.ContextWithSpanContext(context.Background(), trace.SpanContext{}), ""},
		{"valid span", trace.ContextWithSpanContext(context.Background(), spanContext(t)),
			"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec, err := env.RecordContext(tc.ctx, "t", "k")
			if err != nil {
				t.Fatal(err)
			}
			got := rec.Header(HeaderTraceParent)
			if (got == nil) != (tc.want == "") || string(got) != tc.want {
				t.Errorf("traceparent = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestRecordContextCarriesTraceStateBothWays(t *testing.T) {
	ts, err := trace.ParseTraceState("vendor=opaque")
	if err != nil {
		t.Fatal(err)
	}
	sc := spanContext(t).WithTraceState(ts)
	rec, err := goldenEnvelope(t).RecordContext(trace.ContextWithSpanContext(context.Background(), sc), "t", "k")
	if err != nil {
		t.Fatal(err)
	}
	if got := string(rec.Header(HeaderTraceState)); got != "vendor=opaque" {
		t.Errorf("tracestate header = %q, want %q", got, "vendor=opaque")
	}
	got := trace.SpanContextFromContext(ExtractTraceContext(context.Background(), rec))
	if got.TraceState().String() != "vendor=opaque" {
		t.Errorf("extracted tracestate %q, want %q", got.TraceState(), "vendor=opaque")
	}
}

func TestRecordSizeCountsTopicKeyValueAndHeaders(t *testing.T) {
	r := Record{Topic: "t", Key: []byte("ab"), Value: []byte("xyz"), Headers: []Header{{Key: "h", Value: []byte("12")}, {Key: "i"}}}
	if got := r.Size(); got != 1+2+3+(1+2)+1 {
		t.Errorf("Size = %d, want 10", got)
	}
}

func TestExtractTraceContextContinuesProducerTrace(t *testing.T) {
	sc := spanContext(t)
	rec, err := goldenEnvelope(t).RecordContext(trace.ContextWithSpanContext(context.Background(), sc), "t", "k")
	if err != nil {
		t.Fatal(err)
	}
	got := trace.SpanContextFromContext(ExtractTraceContext(context.Background(), rec))
	if got.TraceID() != sc.TraceID() || got.SpanID() != sc.SpanID() || !got.IsRemote() {
		t.Errorf("extracted %v, want remote %v", got, sc)
	}
	plain, _ := goldenEnvelope(t).Record("t", "k")
	if trace.SpanContextFromContext(ExtractTraceContext(context.Background(), plain)).IsValid() {
		t.Error("record without traceparent yielded a span context")
	}
}
