package errctx_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"

	"github.com/huleedu/huleedu/errctx"
)

var errQueueFull = errors.New("spool: queue full")

func ExampleWrap() {
	ctx := errctx.WithService(context.Background(), "file_service")
	ctx = errctx.WithCorrelation(ctx, "4f1c")

	err := errctx.Wrap(ctx, errQueueFull, "kafka_fallback_full", "essay event not accepted",
		errctx.WithExtra("topic", "huleedu.essay.uploaded"))

	fmt.Println(err)
	fmt.Println(errors.Is(err, errQueueFull))
	fmt.Println(err.Service, err.CorrelationID, err.Extra["topic"])
	// Output:
	// kafka_fallback_full: essay event not accepted: spool: queue full
	// true
	// file_service 4f1c huleedu.essay.uploaded
}

func ExampleNew() {
	ctx := errctx.WithOperation(context.Background(), "validate_upload")
	err := errctx.New(ctx, "validation", "file name is empty")

	if e, ok := errctx.As(fmt.Errorf("handler: %w", err)); ok {
		fmt.Println(e.Type, e.Operation)
	}
	// Output: validation validate_upload
}

func ExampleError_LogValue() {
	logger := slog.New(slog.NewJSONHandler(os.Stdout, &slog.HandlerOptions{
		ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
			if a.Key == slog.TimeKey {
				return slog.Attr{} // keep the example's output stable
			}
			return a
		},
	}))
	ctx := errctx.WithCorrelation(context.Background(), "4f1c")
	err := errctx.Wrap(ctx, errQueueFull, "kafka_fallback_full", "not accepted", errctx.WithStackDepth(0))

	logger.Error("publish failed", "error", err)
	// Output:
	// {"level":"ERROR","msg":"publish failed","error":{"error_type":"kafka_fallback_full","message":"not accepted","correlation_id":"4f1c","cause":"spool: queue full"}}
}
