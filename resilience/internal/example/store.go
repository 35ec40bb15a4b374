package example

import (
	"context"
	"time"
)

//go:generate go run github.com/huleedu/huleedu/resilience/cmd/breakergen -type Store

// Store is a key-value store reached over the network. Its methods cover
// every shape the generator handles.
type Store interface {
	// Get returns the value of key: (T, error), wrapped with Execute.
	Get(ctx context.Context, key string) ([]byte, error)
	// Put stores value under key: error only, wrapped with Call.
	Put(ctx context.Context, key string, value []byte) error
	// Stat returns size and modification time: several results, wrapped
	// with a closure.
	Stat(ctx context.Context, key string) (size int64, modified time.Time, err error)
	// Delete removes keys: variadic.
	Delete(ctx context.Context, keys ...string) error
	// Watch registers fn for changes under prefix: no error, passed
	// through.
	Watch(ctx context.Context, prefix string, fn func(key string))
	// Lister is embedded from the same package.
	Lister
	// Name has no context: passed through.
	Name() string
}

// Lister lists keys.
type Lister interface {
	List(ctx context.Context, prefix string) ([]string, error)
}
