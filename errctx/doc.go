// Package errctx gives errors the context an operator needs: what kind of
// failure (Type), where (Service, Operation, Stack), which request
// (CorrelationID, and the TraceID/SpanID of the current OpenTelemetry span)
// and what it wraps (Cause). It is the Go form of the original platform's
// ErrorContext / EnhancedError.
//
// It also owns the context keys for the correlation id, the service name and
// the operation (WithCorrelation/CorrelationID, WithService/Service,
// WithOperation/Operation), so every package reads and writes the same ones:
// set them once at the edge (an HTTP middleware, a Kafka consumer) and every
// error created below, and every log line written through the handler in
// package observability, carries them.
//
// Guarantees:
//
//   - An *Error is transparent to errors.Is and errors.As: Unwrap returns the
//     cause, so errors.Is(err, spool.ErrFull) still works after any number
//     of Wrap layers.
//   - Wrap(ctx, nil, ...) returns nil.
//   - Error() is "type: message: cause" with empty parts left out.
//   - MarshalJSON uses the stable field names error_type, message, service,
//     operation, correlation_id, trace_id, span_id, timestamp, stack, extra
//     and cause, and never fails because of a value in Extra.
//   - LogValue makes slog write the fields as a group, with the stack
//     trimmed to three frames.
//   - RecordOnSpan / Record mark the span as failed and add an exception
//     event with the fields as attributes; they cost nothing when tracing is
//     off (the span does not record).
//   - Nothing here starts goroutines or holds locks; creating an Error costs
//     one stack capture (WithStackDepth(0) skips it).
//
// The option names ForService and ForOperation differ from the context
// helpers WithService and WithOperation only because Go has one namespace
// per package; the options override what the context says.
//
// Usage:
//
//	ctx = errctx.WithService(ctx, "file_service")
//	ctx = errctx.WithCorrelation(ctx, correlationID)
//	ctx = errctx.WithOperation(ctx, "publish_event")
//
//	if err := bus.Publish(ctx, topic, key, env); err != nil {
//		e := errctx.Wrap(ctx, err, "kafka_publish_failed", "publish essay event",
//			errctx.WithExtra("topic", topic))
//		e.Record(ctx)                       // span status + exception event
//		logger.ErrorContext(ctx, "publish failed", "error", e)
//		return e                            // errors.Is(e, kafkabus.ErrX) still works
//	}
package errctx
