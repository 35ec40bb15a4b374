package servicekittest

import (
	"context"
	"io"
	"slices"
	"strings"
	"testing"
	"time"

	"go.uber.org/fx"

	"github.com/huleedu/huleedu/kafkabus"
	"github.com/huleedu/huleedu/resilience"
	"github.com/huleedu/huleedu/servicekit"
)

// Want is what a service's wiring must show besides the Kafka bus.
type Want struct {
	// Breakers are the breakers the module registers besides
	// "<service>.kafka_producer", such as "<service>.file_service".
	Breakers []string
	// Topics are the topics the service consumes.
	Topics []string
	// API says whether the service serves routes on HTTP_ADDR.
	API bool
	// Database says whether the service keeps state in a database
	// (servicekit.WithDatabase): then it publishes through its outbox by
	// default, and its database settings are checked too.
	Database bool
}

// Environ returns a minimal valid environment for spec: bootstrap servers
// (never contacted, since CheckWiring does not start the apps) and a URL
// for each dependency, plus extra. A service with a database gets its
// SQLite file in a directory of t's (HULEEDU_DATA_DIR), unless extra says
// otherwise.
func Environ(t testing.TB, spec servicekit.ServiceSpec, extra ...string) []string {
	environ := []string{"KAFKA_BOOTSTRAP_SERVERS=127.0.0.1:9092", "LOG_LEVEL=error", "HULEEDU_DATA_DIR=" + t.TempDir()}
	for _, variable := range spec.DependencyURLs {
		environ = append(environ, variable+"=http://127.0.0.1:1")
	}
	return append(environ, extra...)
}

// CheckWiring runs the wiring checks listed in the package documentation
// for spec as subtests.
func CheckWiring(t *testing.T, spec servicekit.ServiceSpec, want Want) {
	t.Helper()
	prefix := servicekit.Prefix(spec.Name)

	name := "breakers enabled gives ResilientBus with configured breaker"
	if want.Database {
		name = "a database gives the outbox, its relay behind the configured breaker"
	}
	t.Run(name, func(t *testing.T) {
		var (
			bus      kafkabus.Bus
			breakers *resilience.Registry
		)
		app := build(t, spec, fx.Populate(&bus, &breakers),
			prefix+"KAFKA_CIRCUIT_BREAKER_FAILURE_THRESHOLD=7",
			prefix+"KAFKA_CIRCUIT_BREAKER_RECOVERY_TIMEOUT=45",
			"KAFKA_CIRCUIT_BREAKER_SUCCESS_THRESHOLD=4")
		var busBreaker *resilience.CircuitBreaker
		if want.Database {
			if _, ok := bus.(*servicekit.OutboxBus); !ok {
				t.Fatalf("bus is %T, want *servicekit.OutboxBus: a service with a database publishes through its outbox", bus)
			}
			if app.Runner().Database() == nil || app.Runner().Kafka().Relay == nil {
				t.Fatal("no database or no outbox relay")
			}
			busBreaker = app.Runner().Kafka().Breaker
		} else {
			rb, ok := bus.(*kafkabus.ResilientBus)
			if !ok {
				t.Fatalf("bus is %T, want *kafkabus.ResilientBus", bus)
			}
			if app.Runner().Database() != nil {
				t.Fatal("the service opened a database it did not declare")
			}
			busBreaker = rb.Breaker()
		}
		name := spec.Name + "." + servicekit.KafkaProducerBreaker
		cb, ok := breakers.Get(name)
		if !ok || busBreaker != cb {
			t.Fatalf("the bus's breaker is not registered as %s (registry: %v)", name, breakers.States())
		}
		if s := cb.Settings(); s.FailureThreshold != 7 || s.RecoveryTimeout != 45*time.Second || s.SuccessThreshold != 4 {
			t.Fatalf("%s: threshold %d, recovery %v, success %d; want 7, 45s, 4 from the environment",
				name, s.FailureThreshold, s.RecoveryTimeout, s.SuccessThreshold)
		}
		var names []string
		for _, b := range breakers.All() {
			names = append(names, b.Name())
		}
		wantNames := append(slices.Clone(want.Breakers), name)
		slices.Sort(wantNames)
		if !slices.Equal(names, wantNames) {
			t.Errorf("breakers %v, want %v", names, wantNames)
		}
		r := app.Runner()
		if got := r.Topics(); !slices.Equal(got, sorted(want.Topics)) {
			t.Errorf("consumed topics %v, want %v", got, sorted(want.Topics))
		}
		if r.ServesAPI() != want.API {
			t.Errorf("serves an API: %v, want %v", r.ServesAPI(), want.API)
		}
	})

	t.Run("breakers disabled gives plain bus", func(t *testing.T) {
		var (
			bus      kafkabus.Bus
			breakers *resilience.Registry
		)
		build(t, spec, fx.Populate(&bus, &breakers), "CIRCUIT_BREAKER_ENABLED=false")
		if _, ok := bus.(*kafkabus.KafkaBus); !ok {
			t.Fatalf("bus is %T, want the plain *kafkabus.KafkaBus", bus)
		}
		if _, ok := breakers.Get(spec.Name + "." + servicekit.KafkaProducerBreaker); ok {
			t.Fatal("a kafka_producer breaker exists although breakers are disabled")
		}
	})

	if want.Database {
		t.Run("a fallback queue it is given replaces the outbox", func(t *testing.T) {
			var bus kafkabus.Bus
			build(t, spec, fx.Populate(&bus), prefix+"KAFKA_FALLBACK_MODE=memory")
			if _, ok := bus.(*kafkabus.ResilientBus); !ok {
				t.Fatalf("bus is %T with KAFKA_FALLBACK_MODE=memory, want *kafkabus.ResilientBus", bus)
			}
		})
		t.Run("an unreachable database fails start-up naming the variable", func(t *testing.T) {
			environ := Environ(t, spec, prefix+"DATABASE_URL=postgres://huleedu:s3cret@127.0.0.1:1/huleedu?connect_timeout=1")
			_, err := servicekit.New(servicekit.NewEnv(spec.Name, environ), spec.Module, servicekit.WithLogOutput(io.Discard))
			want := "the database (" + prefix + "DATABASE_URL): sqldb: open postgres://huleedu:xxxxx@127.0.0.1:1/huleedu"
			if err == nil || !strings.Contains(err.Error(), want) || strings.Contains(err.Error(), "s3cret") {
				t.Fatalf("New = %v, want an error containing %s, without the password", err, want)
			}
		})
	} else {
		t.Run("the outbox is refused without a database", func(t *testing.T) {
			environ := Environ(t, spec, prefix+"KAFKA_FALLBACK_MODE=outbox")
			_, err := servicekit.New(servicekit.NewEnv(spec.Name, environ), spec.Module, servicekit.WithLogOutput(io.Discard))
			if want := prefix + `KAFKA_FALLBACK_MODE="outbox": ` + spec.Name + " keeps no database"; err == nil || !strings.Contains(err.Error(), want) {
				t.Fatalf("New = %v, want an error containing %s", err, want)
			}
		})
	}

	t.Run("bad value fails start-up naming the variable", func(t *testing.T) {
		environ := Environ(t, spec, prefix+"KAFKA_CIRCUIT_BREAKER_FAILURE_THRESHOLD=-1", "KAFKA_FALLBACK_MODE=tape")
		_, err := servicekit.New(servicekit.NewEnv(spec.Name, environ), spec.Module, servicekit.WithLogOutput(io.Discard))
		for _, want := range []string{
			prefix + `KAFKA_CIRCUIT_BREAKER_FAILURE_THRESHOLD="-1": must be between 1 and 1000000`,
			`KAFKA_FALLBACK_MODE="tape": must be outbox (a service with a database), disk or memory`,
		} {
			if err == nil || !strings.Contains(err.Error(), want) {
				t.Errorf("New = %v, want an error containing %s", err, want)
			}
		}
	})

	for _, variable := range spec.DependencyURLs {
		t.Run("missing "+variable+" fails start-up naming it", func(t *testing.T) {
			var environ []string
			for _, kv := range Environ(t, spec) {
				if !strings.HasPrefix(kv, variable+"=") {
					environ = append(environ, kv)
				}
			}
			_, err := servicekit.New(servicekit.NewEnv(spec.Name, environ), spec.Module, servicekit.WithLogOutput(io.Discard))
			if want := variable + `="": must be set (or ` + prefix + variable + ")"; err == nil || !strings.Contains(err.Error(), want) {
				t.Fatalf("New = %v, want an error containing %s", err, want)
			}
		})
	}
}

// build builds spec's app with extra variables and populate, and stops it
// when the test ends.
func build(t *testing.T, spec servicekit.ServiceSpec, populate fx.Option, extra ...string) *servicekit.App {
	t.Helper()
	app, err := servicekit.New(servicekit.NewEnv(spec.Name, Environ(t, spec, extra...)), fx.Options(spec.Module, populate),
		servicekit.WithLogOutput(io.Discard))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := app.Stop(ctx); err != nil {
			t.Errorf("stop: %v", err)
		}
	})
	return app
}

func sorted(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	if len(s) == 0 {
		return nil
	}
	return s
}
