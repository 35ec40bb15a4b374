// Package breakergen generates circuit-breaker wrappers for Go interfaces:
// the engine behind the breakergen command (resilience/cmd/breakergen).
//
// For an interface Name it writes a type ResilientName (resilientName for
// an unexported interface) that implements Name by delegating to an inner
// Name, and a constructor NewResilientName(inner Name, cb
// *resilience.CircuitBreaker) *ResilientName. Every method whose first
// parameter is a context.Context and whose last result is an error runs
// through the breaker:
//
//	Get(ctx, key) error              -> cb.Call
//	Get(ctx, key) (T, error)         -> resilience.Execute
//	Stat(ctx, key) (A, B, error)     -> cb.Call with a closure that keeps A and B
//
// Other methods (no context, or no trailing error) call the inner value
// directly. The input is read with go/parser and go/ast only: interfaces
// embedded from the same package are expanded, interfaces embedded from
// other packages and generic interfaces are rejected with an error, since
// resolving them would need type checking.
//
//	src, err := breakergen.Generate(breakergen.Config{Dir: ".", Type: "Store"})
//	if err != nil {
//		return err
//	}
//	return os.WriteFile(breakergen.DefaultOutput("Store"), src, 0o644)
package breakergen
