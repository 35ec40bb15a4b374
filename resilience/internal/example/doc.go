// Package example shows the breakergen generator on a small interface:
// Store is declared in store.go, and store_breaker.go holds the generated
// ResilientStore (regenerate with go generate). The tests check that the
// committed file matches what the generator produces and that the wrapper
// really trips the breaker.
//
//	cb, _ := resilience.NewCircuitBreaker(resilience.Settings{Name: "store"})
//	var s Store = NewResilientStore(backend, cb)
//	data, err := s.Get(ctx, "essay-42") // through the breaker
//	name := s.Name()                    // direct: no context, no error
package example
