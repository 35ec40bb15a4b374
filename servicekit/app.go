package servicekit

import (
	"context"
	"errors"
	"fmt"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"time"

	"go.uber.org/dig"
	"go.uber.org/fx"

	"github.com/huleedu/huleedu/observability"
)

// App is one service's fx application: servicekit's providers plus the
// service's own module, with a Runner that owns the service's servers,
// consumer and Kafka bus.
type App struct {
	env      Env
	settings Settings
	fx       *fx.App
	runner   *Runner
	fxStop   sync.Once
	fxErr    error
}

// startupCleanup closes what constructors opened when building the app
// fails later on: fx runs no stop hooks for an app that never started.
type startupCleanup struct {
	mu  sync.Mutex
	fns []func()
}

func (c *startupCleanup) add(fn func()) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.fns = append(c.fns, fn)
}

func (c *startupCleanup) run() {
	c.mu.Lock()
	fns := c.fns
	c.fns = nil
	c.mu.Unlock()
	for i := len(fns) - 1; i >= 0; i-- {
		fns[i]()
	}
}

// New builds (does not start) the app of e's service: ModuleFrom(e, opts...)
// plus module, the service's providers and registrations. Settings are
// checked first, so bad values fail with the plain *SettingsError.
func New(e Env, module fx.Option, opts ...Option) (*App, error) {
	s, err := LoadSettingsFrom(e)
	if err != nil {
		return nil, err
	}
	cleanup := &startupCleanup{}
	a := &App{env: e, settings: s}
	if module == nil {
		module = fx.Options()
	}
	a.fx = fx.New(
		fx.NopLogger,
		// Stop hooks get the caller's deadline; fx's own default of 15s
		// must not cut a longer SHUTDOWN_TIMEOUT short.
		fx.StopTimeout(time.Duration(s.ShutdownTimeout)+time.Second),
		ModuleFrom(e, opts...),
		fx.Decorate(func(k *Kafka) *Kafka {
			cleanup.add(func() {
				ctx, cancel := context.WithCancel(context.Background())
				cancel()
				_ = k.Close(ctx)
			})
			return k
		}),
		fx.Decorate(func(d *Database) *Database {
			if d != nil {
				cleanup.add(func() { _ = d.Close() })
			}
			return d
		}),
		module,
		fx.Populate(&a.runner),
	)
	if err := a.fx.Err(); err != nil {
		cleanup.run()
		// fx's error lists the whole chain of constructors; the cause
		// is what an operator can act on (it names the variable, the
		// route, the missing dependency).
		return nil, withService(s.Service, dig.RootCause(err))
	}
	return a, nil
}

// withService prefixes err with "servicekit: <service>: ", unless a
// provider's error already begins so: the name once, then the problem.
func withService(service string, err error) error {
	prefix := "servicekit: " + service + ": "
	if strings.HasPrefix(err.Error(), prefix) {
		return err
	}
	return fmt.Errorf("%s%w", prefix, err)
}

// Service returns the service's name.
func (a *App) Service() string { return a.settings.Service }

// Env returns the environment the app was built from, so the same
// service can be built again (a restart on the same disk spool).
func (a *App) Env() Env { return a.env }

// Settings returns the service's settings.
func (a *App) Settings() Settings { return a.settings }

// Runner returns the app's Runner (readiness, breaker report, endpoints).
func (a *App) Runner() *Runner { return a.runner }

// Endpoints returns the addresses the started app listens on.
func (a *App) Endpoints() Endpoints { return a.runner.Endpoints() }

// Start starts the app within ctx. On failure everything started is
// stopped again.
func (a *App) Start(ctx context.Context) error {
	if err := a.fx.Start(ctx); err != nil {
		// A service module's start hook may have failed before the
		// Runner started: the Runner still owns the Kafka bus.
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Duration(a.settings.ShutdownTimeout))
		defer cancel()
		return errors.Join(withService(a.Service(), dig.RootCause(err)), a.runner.Stop(sctx))
	}
	return nil
}

// Stop stops the app gracefully within ctx (see Runner for the order).
// Everything is closed when it returns, even if ctx ended first.
func (a *App) Stop(ctx context.Context) error {
	err := a.runner.Stop(ctx)
	return errors.Join(err, a.stopFx())
}

// Halt stops the app at once, without draining, as a crash would (see
// Runner.Halt): a restarted app on the same disk spool replays what this
// one had accepted.
func (a *App) Halt() error {
	err := a.runner.Halt()
	return errors.Join(err, a.stopFx())
}

// stopFx runs the app's remaining stop hooks (those of service modules)
// after the Runner has stopped; fx would skip them all under an expired
// context.
func (a *App) stopFx() error {
	a.fxStop.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Duration(a.settings.ShutdownTimeout))
		defer cancel()
		a.fxErr = a.fx.Stop(ctx)
	})
	return a.fxErr
}

// Run starts the app, waits until ctx ends or a server fails, then stops
// it within SHUTDOWN_TIMEOUT.
func (a *App) Run(ctx context.Context) error {
	if err := a.Start(ctx); err != nil {
		return err
	}
	var cause error
	select {
	case <-ctx.Done():
	case <-a.runner.Failed():
		cause = a.runner.Err()
	}
	stopCtx, cancel := context.WithTimeout(context.Background(), time.Duration(a.settings.ShutdownTimeout))
	defer cancel()
	return errors.Join(cause, a.Stop(stopCtx))
}

// Run runs one service from the process environment until SIGINT or
// SIGTERM (or ctx ends), then shuts it down gracefully within
// SHUTDOWN_TIMEOUT. It sets up tracing from the OTEL_* variables
// (observability.SetupTracing) for the process.
func Run(ctx context.Context, service string, module fx.Option, opts ...Option) error {
	ctx, stop := signal.NotifyContext(ctx, syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	shutdownTracing, err := observability.SetupTracing(ctx, service)
	if err != nil {
		return err
	}
	defer func() { _ = shutdownTracing(context.Background()) }()
	a, err := New(ProcessEnv(service), module, opts...)
	if err != nil {
		return err
	}
	return a.Run(ctx)
}
