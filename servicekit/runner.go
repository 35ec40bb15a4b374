package servicekit

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel/trace"
	"go.uber.org/fx"

	"github.com/huleedu/huleedu/kafkabus"
	"github.com/huleedu/huleedu/kafkaconsumer"
	"github.com/huleedu/huleedu/resilience"
)

// Endpoints are the base URLs a started service listens on.
type Endpoints struct {
	// API is the service's API, "http://127.0.0.1:PORT"; empty when the
	// service registered no routes.
	API string `json:"api,omitempty"`
	// Admin serves /healthz, /readyz, /metrics and /circuit-breakers.
	Admin string `json:"admin"`
}

// Runner runs the moving parts of one service and stops them in the order
// that loses nothing:
//
//	start: admin server → consumer → API server
//	stop:  readiness off → API server (requests finish) → consumer (the
//	       event in hand finishes, offsets commit) → Kafka bus Close (the
//	       drainer flushes the fallback queue) → idle HTTP connections →
//	       admin server
//
// Everything that publishes has stopped before the bus closes, and the bus
// is closed even when the stop deadline has passed (then without draining:
// the disk spool keeps its records for the next start). It is registered
// as one fx lifecycle hook, since fx skips the remaining stop hooks once
// the stop context ends.
type Runner struct {
	s        Settings
	log      *slog.Logger
	kafka    *Kafka
	breakers *resilience.Registry
	metrics  *prometheus.Registry
	clients  *HTTPClients
	consumer *kafkaconsumer.Consumer // nil without subscriptions
	api      http.Handler            // nil without routes

	stopping atomic.Bool   // readiness reports "stopping" once set
	failed   chan struct{} // closed when a server stops serving unexpectedly
	failOnce sync.Once
	failErr  error // set before failed is closed

	// mu guards endpoints and servers (written by Start, read by
	// Endpoints and the stop).
	mu        sync.Mutex
	endpoints Endpoints
	servers   []*http.Server // admin first, then the API

	serving  sync.WaitGroup // one per Serve goroutine; the stop waits for them
	stopOnce sync.Once
	stopErr  error // the first stop's result
}

type runnerParams struct {
	fx.In

	Lifecycle       fx.Lifecycle
	Settings        Settings
	Logger          *slog.Logger
	Kafka           *Kafka
	Breakers        *resilience.Registry
	Metrics         *prometheus.Registry
	ConsumerMetrics *kafkaconsumer.Metrics
	Clients         *HTTPClients
	Store           kafkaconsumer.IdempotencyStore
	TracerProvider  trace.TracerProvider
	Routes          []Route        `group:"servicekit.routes"`
	Subscriptions   []Subscription `group:"servicekit.subscriptions"`
}

func newRunner(p runnerParams) (*Runner, error) {
	r := &Runner{
		s:        p.Settings,
		log:      p.Logger,
		kafka:    p.Kafka,
		breakers: p.Breakers,
		metrics:  p.Metrics,
		clients:  p.Clients,
		failed:   make(chan struct{}),
	}
	if err := r.build(p); err != nil {
		return nil, err
	}
	p.Lifecycle.Append(fx.Hook{OnStart: r.Start, OnStop: r.onStop})
	return r, nil
}

func (r *Runner) build(p runnerParams) error {
	if len(p.Routes) > 0 {
		api, err := newAPIHandler(r.s.Service, p.Routes, r.log, p.TracerProvider.Tracer(tracerName))
		if err != nil {
			return err
		}
		r.api = api
	}
	if len(p.Subscriptions) == 0 {
		return nil
	}
	c, err := newConsumer(r.s, p.Subscriptions, r.kafka, p.Store, p.ConsumerMetrics, r.log, p.TracerProvider)
	if err != nil {
		return err
	}
	r.consumer = c
	return nil
}

// Start starts the admin server, the consumer and the API server. If one
// fails, what was started is stopped again (the Kafka bus included) and
// the error names the address variable or the consumer group.
func (r *Runner) Start(ctx context.Context) error {
	err := r.start()
	if err != nil {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Duration(r.s.ShutdownTimeout))
		defer cancel()
		return errors.Join(err, r.Stop(cctx))
	}
	return nil
}

func (r *Runner) start() error {
	admin, err := r.serve("ADMIN_ADDR", r.s.AdminAddr, r.adminHandler())
	if err != nil {
		return err
	}
	r.setEndpoint(func(e *Endpoints) { e.Admin = admin })
	if r.consumer != nil {
		if err := r.consumer.Start(); err != nil {
			return err
		}
	}
	if r.api != nil {
		api, err := r.serve("HTTP_ADDR", r.s.HTTPAddr, r.api)
		if err != nil {
			return err
		}
		r.setEndpoint(func(e *Endpoints) { e.API = api })
	}
	ep := r.Endpoints()
	r.log.Info("service started", "api", ep.API, "admin", ep.Admin,
		"circuit_breaker_enabled", r.s.CircuitBreakerEnabled, "fallback_mode", r.s.Kafka.Fallback.Mode)
	return nil
}

func (r *Runner) setEndpoint(f func(*Endpoints)) {
	r.mu.Lock()
	defer r.mu.Unlock()
	f(&r.endpoints)
}

// serve listens on addr and serves h in a goroutine; it returns the base
// URL. variable names the setting for error messages.
func (r *Runner) serve(variable, addr string, h http.Handler) (string, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return "", fmt.Errorf("servicekit: %s: listen on %s=%s: %w", r.s.Service, Prefix(r.s.Service)+variable, addr, err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	r.mu.Lock()
	r.servers = append(r.servers, srv)
	r.serving.Add(1)
	r.mu.Unlock()
	go func() {
		defer r.serving.Done()
		if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
			r.log.Error("server stopped serving", "addr", ln.Addr().String(), "err", err)
			r.fail(fmt.Errorf("servicekit: %s: server on %s: %w", r.s.Service, ln.Addr(), err))
		}
	}()
	return "http://" + ln.Addr().String(), nil
}

func (r *Runner) fail(err error) {
	r.failOnce.Do(func() {
		r.failErr = err
		close(r.failed)
	})
}

// Failed is closed when a server stopped serving on its own; Err then says
// why. App.Run stops the service when it is.
func (r *Runner) Failed() <-chan struct{} { return r.failed }

// Err returns why Failed was closed, or nil.
func (r *Runner) Err() error {
	select {
	case <-r.failed:
		return r.failErr
	default:
		return nil
	}
}

// Topics returns the topics the service's consumer consumes, sorted;
// none when the service registered no Subscriptions.
func (r *Runner) Topics() []string {
	if r.consumer == nil {
		return nil
	}
	return r.consumer.Topics()
}

// Kafka returns the service's Kafka publishing side.
func (r *Runner) Kafka() *Kafka { return r.kafka }

// ServesAPI reports whether the service registered Routes.
func (r *Runner) ServesAPI() bool { return r.api != nil }

// Endpoints returns the addresses the servers listen on; zero before
// Start.
func (r *Runner) Endpoints() Endpoints {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.endpoints
}

// Stop stops everything in the order described on Runner, within ctx. It
// is idempotent: later calls return the first call's result.
func (r *Runner) Stop(ctx context.Context) error {
	r.stopOnce.Do(func() { r.stopErr = r.stop(ctx) })
	return r.stopErr
}

// onStop is the fx stop hook: Stop, unless App.Stop or Halt already
// stopped the Runner and reported the result.
func (r *Runner) onStop(ctx context.Context) error {
	ran := false
	r.stopOnce.Do(func() {
		r.stopErr = r.stop(ctx)
		ran = true
	})
	if ran {
		return r.stopErr
	}
	return nil
}

// Halt stops at once, as a crash would: the record in hand is abandoned
// uncommitted and the bus closes without draining, so the disk spool keeps
// what it holds for the next start (a memory queue's records are reported
// undelivered). The locks and ports are released, unlike a real crash.
func (r *Runner) Halt() error {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	return r.Stop(ctx)
}

func (r *Runner) stop(ctx context.Context) error {
	r.stopping.Store(true)
	r.mu.Lock()
	servers := append([]*http.Server(nil), r.servers...)
	r.mu.Unlock()
	var errs []error
	// servers[0] is the admin server, servers[1] the API server.
	if len(servers) > 1 {
		errs = append(errs, shutdownServer(ctx, servers[1], "API"))
	}
	if r.consumer != nil {
		errs = append(errs, r.consumer.Stop(ctx))
	}
	if err := r.kafka.Close(ctx); err != nil {
		var ue *kafkabus.UndeliveredError
		if errors.As(err, &ue) {
			r.log.Error("accepted records could not be delivered before shutdown", "records", ue.Count)
		}
		errs = append(errs, fmt.Errorf("servicekit: %s: closing the kafka bus: %w", r.s.Service, err))
	}
	r.clients.CloseIdleConnections()
	if len(servers) > 0 {
		errs = append(errs, shutdownServer(ctx, servers[0], "admin"))
	}
	r.serving.Wait()
	err := errors.Join(errs...)
	if err != nil {
		r.log.Warn("service stopped with errors", "err", err)
	} else {
		r.log.Info("service stopped")
	}
	return err
}

// shutdownServer lets srv finish its requests until ctx ends, then closes
// it.
func shutdownServer(ctx context.Context, srv *http.Server, name string) error {
	if err := srv.Shutdown(ctx); err != nil {
		_ = srv.Close()
		return fmt.Errorf("servicekit: %s server: requests cut off at shutdown: %w", name, err)
	}
	return nil
}
