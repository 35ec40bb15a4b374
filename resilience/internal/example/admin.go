package example

import (
	stdctx "context"
	"io"
	"time"
)

//go:generate go run github.com/huleedu/huleedu/resilience/cmd/breakergen -type Admin

// Admin exists to prove that the generator's unusual shapes compile: an
// aliased context import, unnamed and blank parameters, parameter names
// that shadow packages, function-typed parameters and results, and an
// embedded error.
type Admin interface {
	Ping(stdctx.Context) error
	Compact(ctx stdctx.Context, _ int, from, to string) (removed int, took time.Duration, err error)
	Export(ctx stdctx.Context, time time.Time, io io.Writer) (int64, error)
	Hook(ctx stdctx.Context, fn func(w io.Writer) error) (func() error, error)
	Changes(ctx stdctx.Context) <-chan string
	error
}
