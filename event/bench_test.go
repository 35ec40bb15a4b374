package event

import (
	"context"
	"testing"

	"go.opentelemetry.io/otel/trace"
)

func BenchmarkNewEnvelope(b *testing.B) {
	data := essayProvisioned{EssayID: "essay-1", TextStorageID: "content-9"}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := NewEnvelope(TypeEssayContentProvisionedV1, "file_service", data); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkEnvelopeRecordContext(b *testing.B) {
	env, err := NewEnvelope(TypeEssayContentProvisionedV1, "file_service", essayProvisioned{EssayID: "essay-1"})
	if err != nil {
		b.Fatal(err)
	}
	ctx := trace.ContextWithSpanContext(context.Background(), spanContext(b))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := env.RecordContext(ctx, TopicEssayContentProvisionedV1, "essay-1"); err != nil {
			b.Fatal(err)
		}
	}
}
