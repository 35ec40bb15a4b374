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
	"github.com/huleedu/huleedu/outbox"
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
//	start: admin server → outbox relay and pruner (the database is open
//	       and migrated already) → consumer → API server
//	stop:  readiness off → API server (requests finish) → consumer (the
//	       event in hand finishes, offsets commit) → outbox drain (while
//	       Kafka takes rows, until the deadline) and relay stop (the batch
//	       in flight is settled, leases handed over) → Kafka bus Close (the
//	       drainer flushes the fallback queue) → idle HTTP connections →
//	       database → admin server
//
// Everything that publishes has stopped before the bus closes, and the bus
// is closed even when the stop deadline has passed (then without draining:
// the disk spool keeps its records for the next start, the outbox its
// rows). It is registered as one fx lifecycle hook, since fx skips the
// remaining stop hooks once the stop context ends.
type Runner struct {
	s        Settings
	log      *slog.Logger
	kafka    *Kafka
	db       *Database // nil for a service without one
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

	// relay runs the outbox relay; set by Start, read by the stop.
	relay relayRun
}

// relayRun is the outbox relay's goroutine: cancel ends it, done is
// closed when Run returned.
type relayRun struct {
	mu     sync.Mutex // guards cancel and done
	cancel context.CancelFunc
	done   chan struct{}
}

type runnerParams struct {
	fx.In

	Lifecycle       fx.Lifecycle
	Settings        Settings
	Logger          *slog.Logger
	Kafka           *Kafka
	Database        *Database
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
		db:       p.Database,
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
	if rl := r.kafka.Relay; rl != nil {
		r.relay.start(rl)
	}
	if r.db != nil {
		r.db.startPruning()
	}
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
	attrs := []any{"api", ep.API, "admin", ep.Admin, "circuit_breaker_enabled", r.s.CircuitBreakerEnabled, "publish_mode", r.kafka.Mode}
	if r.kafka.Resilient != nil {
		attrs = append(attrs, "fallback_mode", r.s.Kafka.Fallback.Mode)
	}
	if r.db != nil {
		attrs = append(attrs, "database", r.db.String())
	}
	r.log.Info("service started", attrs...)
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

// Database returns the service's database, nil for a service without
// one.
func (r *Runner) Database() *Database { return r.db }

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
	if r.kafka.Relay != nil {
		r.drainOutbox(ctx)
		r.relay.stop()
	}
	if err := r.kafka.Close(ctx); err != nil {
		var ue *kafkabus.UndeliveredError
		if errors.As(err, &ue) {
			r.log.Error("accepted records could not be delivered before shutdown", "records", ue.Count)
		}
		errs = append(errs, fmt.Errorf("servicekit: %s: closing the kafka bus: %w", r.s.Service, err))
	}
	r.clients.CloseIdleConnections()
	if r.db != nil {
		if err := r.db.Close(); err != nil {
			errs = append(errs, fmt.Errorf("servicekit: %s: %w", r.s.Service, err))
		}
	}
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

// start runs rl until stop.
func (rr *relayRun) start(rl *outbox.Relay) {
	rr.mu.Lock()
	defer rr.mu.Unlock()
	if rr.done != nil {
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	rr.cancel, rr.done = cancel, done
	go func() {
		defer close(done)
		_ = rl.Run(ctx) // returns nil when ctx ends; failures it retries
	}()
}

// stop ends the relay and waits for it: it settles the batch in flight,
// which takes at most KAFKA_PUBLISH_TIMEOUT, and hands its leases over.
func (rr *relayRun) stop() {
	rr.mu.Lock()
	cancel, done := rr.cancel, rr.done
	rr.mu.Unlock()
	if cancel == nil {
		return
	}
	cancel()
	<-done
}

// drainPoll is how often drainOutbox looks at the outbox.
const drainPoll = 50 * time.Millisecond

// drainOutbox gives the relay time to publish what the outbox holds
// before it stops: until the outbox is empty, the breaker is not closed
// (Kafka is not taking rows; they wait for the next start, or another
// instance), or ctx is about to end, leaving the relay a produce timeout
// to settle its batch. Nothing is lost either way: the rows stay.
func (r *Runner) drainOutbox(ctx context.Context) {
	dctx := ctx
	if deadline, ok := ctx.Deadline(); ok {
		var cancel context.CancelFunc
		dctx, cancel = context.WithDeadline(ctx, deadline.Add(-r.s.Kafka.PublishTimeout))
		defer cancel()
	}
	t := time.NewTicker(drainPoll)
	defer t.Stop()
	left := int64(-1)
	for dctx.Err() == nil && r.kafka.Breaker.State() == resilience.StateClosed {
		st, err := r.db.Outbox.Stats(dctx)
		if err != nil {
			break // the database is in trouble: nothing to wait for
		}
		// Rows that only wait for a retry wait for the relay's back-off.
		if left = st.Pending; st.Pending == 0 || st.Pending == st.Retrying {
			break
		}
		select {
		case <-dctx.Done():
		case <-t.C:
		}
	}
	if left > 0 {
		r.log.Info("outbox rows left for the next start or another instance", "pending", left)
	}
}
