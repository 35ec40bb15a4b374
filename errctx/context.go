package errctx

import "context"

// ctxKey is unexported so no other package can read or overwrite the values
// except through the helpers below: every package shares this one key space.
type ctxKey int

const (
	correlationKey ctxKey = iota
	serviceKey
	operationKey
)

// WithCorrelation returns a copy of ctx that carries the correlation id. The
// id follows a request or an event through every service; errors created
// with New or Wrap and the logger from package observability pick it up.
// An empty id leaves ctx unchanged.
func WithCorrelation(ctx context.Context, id string) context.Context {
	return withString(ctx, correlationKey, id)
}

// CorrelationID returns the correlation id stored by WithCorrelation, or ""
// when there is none (or ctx is nil).
func CorrelationID(ctx context.Context) string {
	return stringValue(ctx, correlationKey)
}

// WithService returns a copy of ctx that names the service doing the work
// ("file_service"). An empty name leaves ctx unchanged.
func WithService(ctx context.Context, name string) context.Context {
	return withString(ctx, serviceKey, name)
}

// Service returns the service name stored by WithService, or "".
func Service(ctx context.Context) string {
	return stringValue(ctx, serviceKey)
}

// WithOperation returns a copy of ctx that names the operation in progress
// ("publish_event", "fetch_content"). An empty op leaves ctx unchanged.
func WithOperation(ctx context.Context, op string) context.Context {
	return withString(ctx, operationKey, op)
}

// Operation returns the operation stored by WithOperation, or "".
func Operation(ctx context.Context) string {
	return stringValue(ctx, operationKey)
}

// withString stores v under k; an empty v leaves ctx unchanged, so an
// unknown value never hides one set further out.
func withString(ctx context.Context, k ctxKey, v string) context.Context {
	if v == "" {
		return ctx
	}
	return context.WithValue(ctx, k, v)
}

func stringValue(ctx context.Context, k ctxKey) string {
	if ctx == nil {
		return ""
	}
	s, _ := ctx.Value(k).(string)
	return s
}
