package servicekit

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"os"
	"slices"

	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/trace"
	"go.uber.org/fx"

	"github.com/huleedu/huleedu/event"
	"github.com/huleedu/huleedu/kafkabus"
	"github.com/huleedu/huleedu/kafkaconsumer"
	"github.com/huleedu/huleedu/observability"
	"github.com/huleedu/huleedu/resilience"
	"github.com/huleedu/huleedu/sqldb"
)

// Route is one endpoint of a service's API: a net/http ServeMux pattern
// ("POST /v1/batches", "GET /v1/files/{id}") and its handler.
type Route struct {
	Pattern string
	Handler http.Handler
}

// Subscription is a topic the service consumes and the handler of its
// events.
type Subscription struct {
	Topic   string
	Handler kafkaconsumer.Handler
}

// MuxRoutes adapts a service that registers its endpoints on a ServeMux
// (func (s *Service) Routes(mux *http.ServeMux)): its mux becomes the one
// route "/", so its own patterns decide, 404s and 405s included.
func MuxRoutes(register func(mux *http.ServeMux)) []Route {
	mux := http.NewServeMux()
	register(mux)
	return []Route{{Pattern: "/", Handler: mux}}
}

// Subscriptions adapts a topic → handler map (a service's Handlers()) to
// Subscriptions, sorted by topic. H is any function type with
// kafkaconsumer.Handler's
// signature, such as contracts.HandlerFunc.
func Subscriptions[H ~func(context.Context, *event.Envelope) error](handlers map[string]H) []Subscription {
	subs := make([]Subscription, 0, len(handlers))
	for _, topic := range slices.Sorted(maps.Keys(handlers)) {
		subs = append(subs, Subscription{Topic: topic, Handler: kafkaconsumer.Handler(handlers[topic])})
	}
	return subs
}

// Value group names; use AsRoutes and AsSubscriptions rather than these.
const (
	routesGroup        = `group:"servicekit.routes,flatten"`
	subscriptionsGroup = `group:"servicekit.subscriptions,flatten"`
)

// AsRoutes registers constructor's result, a []Route, as API routes of the
// service. constructor is an fx constructor: its parameters are injected,
// and it may return an error as its second result.
//
//	servicekit.AsRoutes(func(h *fileservice.API) []servicekit.Route {
//		return []servicekit.Route{{Pattern: "POST /v1/files/batch", Handler: http.HandlerFunc(h.Upload)}}
//	})
func AsRoutes(constructor any) fx.Option {
	return fx.Provide(fx.Annotate(constructor, fx.ResultTags(routesGroup)))
}

// AsSubscriptions registers constructor's result, a []Subscription, with
// the service's consumer, in the same way as AsRoutes.
func AsSubscriptions(constructor any) fx.Option {
	return fx.Provide(fx.Annotate(constructor, fx.ResultTags(subscriptionsGroup)))
}

// MuxService is the shape every HuleEdu service has (contracts.Service):
// a REST API it registers on a ServeMux and its event handlers by topic. H
// is its handler type, such as contracts.HandlerFunc.
type MuxService[H ~func(context.Context, *event.Envelope) error] interface {
	Routes(mux *http.ServeMux)
	Handlers() map[string]H
}

// AsService registers the API and the event handlers of the service S that
// the module provides: AsRoutes of MuxRoutes(s.Routes) and
// AsSubscriptions of Subscriptions(s.Handlers()). A service whose Handlers
// is empty gets no consumer.
//
//	servicekit.AsService[*Service, contracts.HandlerFunc]()
func AsService[S MuxService[H], H ~func(context.Context, *event.Envelope) error]() fx.Option {
	return fx.Options(
		AsRoutes(func(s S) []Route { return MuxRoutes(s.Routes) }),
		AsSubscriptions(func(s S) []Subscription { return Subscriptions(s.Handlers()) }),
	)
}

// ServiceSpec describes a runnable service: its name, its module and the
// services it calls, for servicegroup.Start and servicegroup.Run.
type ServiceSpec struct {
	// Name is the service's name ("batch_orchestrator_service"); its
	// variables may carry the prefix Prefix(Name).
	Name string
	// Module provides the service's types and registers its Routes and
	// Subscriptions (see AsRoutes, AsSubscriptions).
	Module fx.Option
	// DependencyURLs maps each service this one calls over HTTP to the
	// variable that holds that service's base URL
	// ({"batch_conductor_service": "BATCH_CONDUCTOR_URL"}).
	// servicegroup.Start starts dependencies first and, unless the
	// environment sets the variable for this service already, sets it to
	// the dependency's API address. A dependency that is not started with
	// it must be configured in the environment.
	DependencyURLs map[string]string
}

// Option configures ModuleFrom.
type Option func(*moduleOptions)

type moduleOptions struct {
	logOutput io.Writer
}

// WithLogOutput sends the service's JSON logs to w (default os.Stderr).
func WithLogOutput(w io.Writer) Option {
	return func(o *moduleOptions) {
		if w != nil {
			o.logOutput = w
		}
	}
}

// Module returns servicekit's providers for service, configured from the
// process environment. See ModuleFrom.
func Module(service string) fx.Option { return ModuleFrom(ProcessEnv(service)) }

// ModuleFrom returns the fx module "servicekit" for the service e is for.
// It provides:
//
//   - Settings, loaded from e and validated (a bad value fails the app
//     with a *SettingsError naming the variable);
//   - *slog.Logger, JSON with the service, correlation and trace ids;
//   - trace.TracerProvider, OpenTelemetry's global provider (what
//     observability.SetupTracing installed, or the no-op default): every
//     span of the service (API requests, HTTP calls, consumed events,
//     kafka.publish and kafka.replay) comes from it. Replace it with
//     fx.Decorate to give one service its own provider (its own
//     service.name resource, or a test's span recorder);
//   - *resilience.Registry, every breaker of the service; each state
//     transition is logged once, as "circuit breaker state changed"
//     (observability.LogTransitions), until the app stops;
//   - *Database and *sqldb.DB, for a service whose module declares
//     WithDatabase: PostgreSQL (DATABASE_URL) or SQLite in the data
//     directory, migrated; nil *Database for a service without;
//   - *Kafka and kafkabus.Bus (see NewKafka): for a service with a
//     database the OutboxBus (KAFKA_FALLBACK_MODE=outbox, its default),
//     whose relay publishes behind the breaker "<service>.kafka_producer";
//     otherwise the ResilientBus with that breaker when
//     CIRCUIT_BREAKER_ENABLED=true, the plain KafkaBus when false;
//   - *HTTPClients, HTTP clients behind breakers "<service>.<dependency>";
//   - *prometheus.Registry with the breaker, bus, publish latency and
//     consumer collectors, and *kafkaconsumer.Metrics;
//   - kafkaconsumer.IdempotencyStore for the consumer: with a database
//     the processed_events table (package processed), whose mark commits
//     in the handler's transaction; without one, in memory, bounded by
//     KAFKA_CONSUMER_IDEMPOTENCY_*;
//   - *Runner, which starts the admin server, the consumer of the
//     registered Subscriptions and the API server of the registered
//     Routes, and stops them in order (see Runner).
func ModuleFrom(e Env, opts ...Option) fx.Option {
	o := moduleOptions{logOutput: os.Stderr}
	for _, opt := range opts {
		opt(&o)
	}
	return fx.Module("servicekit",
		fx.Supply(e),
		fx.Provide(
			LoadSettingsFrom,
			func(s Settings) *slog.Logger {
				return observability.NewLogger(o.logOutput, s.Service, s.LogLevel)
			},
			func() trace.TracerProvider { return otel.GetTracerProvider() },
			newBreakerRegistry,
			newMetrics,
			newConsumerMetrics,
			newDatabase,
			serviceDB,
			newKafka,
			func(k *Kafka) kafkabus.Bus { return k.Bus },
			newHTTPClients,
			newIdempotencyStore,
			newRunner,
		),
		fx.Invoke(func(*Runner) {}),
	)
}

// newBreakerRegistry returns the service's breaker registry, whose
// transitions are logged from the start, before any breaker exists (a
// drainer replaying a disk spool may trip the Kafka breaker before the
// service starts), until the app stops.
func newBreakerRegistry(s Settings, logger *slog.Logger, lc fx.Lifecycle) *resilience.Registry {
	r := resilience.NewRegistry(s.HTTPBreakerSettings())
	lc.Append(fx.StopHook(observability.LogTransitions(logger.With("component", "circuit_breaker"), r)))
	return r
}

// newMetrics returns the service's Prometheus registry with the breaker
// collector.
func newMetrics(s Settings, breakers *resilience.Registry) (*prometheus.Registry, error) {
	reg := observability.NewRegistry(s.Service)
	if err := reg.Register(observability.NewBreakerCollector(s.Service, breakers)); err != nil {
		return nil, err
	}
	return reg, nil
}

// newKafka is NewKafka for fx, with the kafka.publish and kafka.replay
// spans from the app's tracer provider; the Runner closes the bus, after
// the consumers and servers that publish through it have stopped.
func newKafka(s Settings, breakers *resilience.Registry, reg *prometheus.Registry, logger *slog.Logger, tp trace.TracerProvider,
	db *Database) (*Kafka, error) {
	return newKafkaTraced(s, breakers, reg, logger, tp.Tracer(kafkabusTracerName), db)
}

// serviceDB is the *sqldb.DB of the service's Database, for
// repositories; a service that declared no WithDatabase has none to give.
func serviceDB(s Settings, d *Database) (*sqldb.DB, error) {
	if d == nil {
		return nil, fmt.Errorf("servicekit: %s: a constructor wants *sqldb.DB, but the module declares no servicekit.WithDatabase", s.Service)
	}
	return d.DB, nil
}

// newHTTPClients is NewHTTPClients for fx, with client spans from the
// app's tracer provider.
func newHTTPClients(s Settings, breakers *resilience.Registry, tp trace.TracerProvider) *HTTPClients {
	h := NewHTTPClients(s, breakers)
	h.tracer = tp.Tracer(tracerName)
	return h
}
