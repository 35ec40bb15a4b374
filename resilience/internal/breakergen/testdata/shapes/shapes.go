// Package shapes is breakergen test input: one interface with every kind
// of method the generator distinguishes. It is not compiled.
package shapes

import (
	stdctx "context"
	"io"
	"net/http"
	"time"

	yaml "gopkg.in/yaml.v3"
)

// Client has every method shape.
type Client interface {
	// Guarded: context first, error last.
	Ping(stdctx.Context) error
	Fetch(ctx stdctx.Context, req *http.Request) (*http.Response, error)
	Three(ctx stdctx.Context, _ int, b, c string) (n int, at time.Time, err error)
	Variadic(ctx stdctx.Context, format string, args ...any) error
	Shadowing(ctx stdctx.Context, time time.Duration, io io.Reader) (time.Time, error)
	YAML(ctx stdctx.Context) (yaml.Node, error)
	// Pass-through: no context, no trailing error, or nothing at all.
	Close() error
	Stream(ctx stdctx.Context) <-chan []byte
	Reset()
	Funcs(ctx stdctx.Context, fn func(w io.Writer) error) (func() error, error)
	Base
	error
}

// Base is embedded from the same package.
type Base interface {
	Name() string
	Len(ctx stdctx.Context) (int, error)
}

// lower is unexported, so its wrapper is too.
type lower interface {
	Do(ctx stdctx.Context) error
}
