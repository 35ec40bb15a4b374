package servicekit

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"slices"
	"strconv"
	"time"

	"github.com/huleedu/huleedu/kafkabus"
	"github.com/huleedu/huleedu/resilience"
	"github.com/huleedu/huleedu/sqldb"
)

// Settings are one service's settings: the Kafka publishing side of
// docs/design.md §6 (Kafka, a kafkabus.Config) and the service basics. Every
// variable may carry the service's prefix (see Env); deploy/env.example
// lists them all with their defaults.
type Settings struct {
	// Service is the service's name ("file_service"): the prefix of its
	// breaker names, the service label of its metrics and log lines, and
	// the default consumer group. Not read from the environment.
	Service string `env:"-"`

	// CircuitBreakerEnabled selects breakers for the whole service: the
	// ResilientBus in front of Kafka (Kafka.Breaker.Disabled is its
	// negation) and a breaker per HTTP dependency. false: the plain
	// KafkaBus and plain HTTP clients, as before breakers existed.
	CircuitBreakerEnabled bool `env:"CIRCUIT_BREAKER_ENABLED" envDefault:"true"`

	// Kafka is the publishing side NewKafka opens, read from the KAFKA_*
	// variables listed in kafkaenv.go on top of kafkabus's defaults:
	// ClientID is the service name, the breaker "<service>.kafka_producer",
	// and in disk mode the spool defaults to
	// <DATA_DIR>/<service>/kafka-spool. KAFKA_BOOTSTRAP_SERVERS and
	// KAFKA_METADATA_MIN_AGE serve the service's consumers too.
	Kafka kafkabus.Config `env:"-"`

	// HTTPAddr is where the service's API listens (host:port; port 0
	// picks a free one, reported once started).
	HTTPAddr string `env:"HTTP_ADDR" envDefault:"127.0.0.1:0"`
	// AdminAddr is where /healthz, /readyz, /metrics and /circuit-breakers
	// listen.
	AdminAddr string `env:"ADMIN_ADDR" envDefault:"127.0.0.1:0"`
	// LogLevel is the lowest level logged: debug, info, warn or error.
	LogLevel slog.Level `env:"LOG_LEVEL" envDefault:"info"`
	// ShutdownTimeout bounds a graceful stop: the API server finishing its
	// requests, consumers finishing their events, the bus draining its
	// fallback queue. What is left then stays in the disk spool, or is
	// reported as undelivered (memory queue).
	ShutdownTimeout kafkabus.Duration `env:"SHUTDOWN_TIMEOUT" envDefault:"30s"`
	// DataDir holds the service's local state: its SQLite database
	// (<DataDir>/<service>/<service>.sqlite) when DATABASE_URL is unset,
	// and with KAFKA_FALLBACK_MODE=disk and no KAFKA_FALLBACK_DIR its
	// spool (<DataDir>/<service>/kafka-spool). From HULEEDU_DATA_DIR, or
	// DATA_DIR, its older name; default $XDG_DATA_HOME/huleedu, else
	// ~/.local/share/huleedu (see settings_database.go).
	DataDir string `env:"-"`

	// The service's database (a service that keeps state declares one
	// with WithDatabase; the others ignore these): see
	// settings_database.go.
	DatabaseURL            string            `env:"DATABASE_URL"`
	DatabaseSchema         string            `env:"DATABASE_SCHEMA"`
	DatabaseMaxConns       int               `env:"DATABASE_MAX_CONNS" envDefault:"0"`
	DatabaseConnectTimeout kafkabus.Duration `env:"DATABASE_CONNECT_TIMEOUT" envDefault:"5s"`

	// The outbox relay of a service that publishes through its outbox
	// (KAFKA_FALLBACK_MODE=outbox, the default with a database): see
	// settings_database.go.
	OutboxPollInterval kafkabus.Duration `env:"OUTBOX_POLL_INTERVAL_SECONDS" envDefault:"1"`
	OutboxBatchSize    int               `env:"OUTBOX_BATCH_SIZE" envDefault:"500"`
	OutboxLeaseTTL     kafkabus.Duration `env:"OUTBOX_LEASE_TTL"`
	OutboxRetryMin     kafkabus.Duration `env:"OUTBOX_RETRY_MIN" envDefault:"100ms"`
	OutboxRetryMax     kafkabus.Duration `env:"OUTBOX_RETRY_MAX" envDefault:"30s"`
	OutboxRetention    kafkabus.Duration `env:"OUTBOX_RETENTION" envDefault:"0"`

	// sources names the variables some settings came from, for messages
	// (DATABASE_URL or FILE_SERVICE_DATABASE_URL, ...); fallback is what
	// KAFKA_FALLBACK_MODE asked for ("" when unset).
	sources  map[string]string
	fallback string
	// ConsumerGroup is the Kafka consumer group of the service's
	// consumers. Default: the service name.
	ConsumerGroup string `env:"KAFKA_CONSUMER_GROUP"`
	// ConsumerMaxAttempts is how often a failing handler runs for one
	// event before the event goes to the dead-letter topic.
	ConsumerMaxAttempts int `env:"KAFKA_CONSUMER_MAX_ATTEMPTS" envDefault:"5"`
	// ConsumerRetryBackoff is the wait after the first failed attempt; it
	// doubles per attempt up to ConsumerRetryMaxBackoff.
	ConsumerRetryBackoff    kafkabus.Duration `env:"KAFKA_CONSUMER_RETRY_BACKOFF" envDefault:"200ms"`
	ConsumerRetryMaxBackoff kafkabus.Duration `env:"KAFKA_CONSUMER_RETRY_MAX_BACKOFF" envDefault:"5s"`
	// ConsumerSessionTimeout is how long the group waits for a member that
	// stopped heartbeating (a crashed process) before moving its
	// partitions; the broker bounds it (group.min/max.session.timeout.ms).
	ConsumerSessionTimeout kafkabus.Duration `env:"KAFKA_CONSUMER_SESSION_TIMEOUT" envDefault:"45s"`
	// IdempotencyTTL is how long a processed event_id is remembered: in
	// memory, or in the processed_events table of a service with a
	// database, which forgets older marks.
	IdempotencyTTL kafkabus.Duration `env:"KAFKA_CONSUMER_IDEMPOTENCY_TTL" envDefault:"24h"`
	// IdempotencyMaxEntries bounds the processed event_ids remembered in
	// memory (a database keeps every one for IdempotencyTTL); the
	// oldest are forgotten first.
	IdempotencyMaxEntries int `env:"KAFKA_CONSUMER_IDEMPOTENCY_MAX_ENTRIES" envDefault:"100000"`

	// HTTP dependency breakers (HTTPClients.For): the same policy as the
	// Kafka breaker, with the original platform's HTTP defaults.
	HTTPFailureThreshold int               `env:"HTTP_CIRCUIT_BREAKER_FAILURE_THRESHOLD" envDefault:"5"`
	HTTPRecoveryTimeout  kafkabus.Duration `env:"HTTP_CIRCUIT_BREAKER_RECOVERY_TIMEOUT" envDefault:"30"`
	HTTPSuccessThreshold int               `env:"HTTP_CIRCUIT_BREAKER_SUCCESS_THRESHOLD" envDefault:"2"`

	// Content client breakers: the breakers of the HTTP clients that fetch
	// essay content (the spellchecker's and CJ assessment's clients of
	// file_service, see ContentDependencies), with the original platform's
	// CONTENT_CIRCUIT_BREAKER_* names and defaults. The HTTP_CIRCUIT_BREAKER_*
	// variables are aliases for them: the most specific name that is set
	// wins, in the order <PREFIX>CONTENT_..., CONTENT_...,
	// <PREFIX>HTTP_..., HTTP_..., then the default here.
	ContentFailureThreshold int               `env:"CONTENT_CIRCUIT_BREAKER_FAILURE_THRESHOLD" envDefault:"3"`
	ContentRecoveryTimeout  kafkabus.Duration `env:"CONTENT_CIRCUIT_BREAKER_RECOVERY_TIMEOUT" envDefault:"30"`
	ContentSuccessThreshold int               `env:"CONTENT_CIRCUIT_BREAKER_SUCCESS_THRESHOLD" envDefault:"2"`
	// contentAliased names the content settings taken from their HTTP_
	// alias: their problems are the alias's, reported once under its name.
	contentAliased map[string]bool
	// HTTPClientTimeout bounds one outgoing HTTP request, body included.
	HTTPClientTimeout kafkabus.Duration `env:"HTTP_CLIENT_TIMEOUT" envDefault:"10s"`
}

// LoadSettings reads service's settings from the process environment and
// validates them. See LoadSettingsFrom.
func LoadSettings(service string) (Settings, error) {
	return LoadSettingsFrom(ProcessEnv(service))
}

// LoadSettingsFrom reads the settings of e's service from e and validates
// them. Defaults fill what is unset (the Kafka ones are kafkabus's: see
// Settings.Kafka); KAFKA_FALLBACK_DIR defaults to
// <DATA_DIR>/<service>/kafka-spool in disk mode; KAFKA_CONSUMER_GROUP to the
// service name.
//
// A bad value is a *SettingsError (wrapping ErrInvalidSettings) that lists
// every problem, each naming the variable as it was set (the prefixed one
// if that is where the value came from), the value and the accepted range:
//
//	FILE_SERVICE_KAFKA_CIRCUIT_BREAKER_FAILURE_THRESHOLD="-1": must be between 1 and 1000000
func LoadSettingsFrom(e Env) (Settings, error) {
	if e.service == "" {
		return Settings{}, errors.New("servicekit: LoadSettings: the service name is empty")
	}
	s := Settings{Service: e.service}
	var unparsed []*SettingError
	if err := e.Parse(&s); err != nil {
		var parsed *SettingsError
		if !errors.As(err, &parsed) {
			return Settings{}, err
		}
		unparsed = parsed.Problems
	}
	s.Service = e.service
	s.Kafka = defaultKafka(e.service)
	unparsed = append(unparsed, e.setKafka(&s.Kafka)...)
	s.databaseFrom(e)
	s.applyDefaults(e)
	validErr := s.Validate()
	if len(unparsed) == 0 && validErr == nil {
		return s, nil
	}
	// Report every problem at once: the values that did not parse, and
	// the range problems of the variables that did.
	all := &SettingsError{Service: e.service, Problems: unparsed}
	skip := map[string]bool{}
	for _, p := range unparsed {
		skip[p.Var] = true
	}
	if validErr != nil {
		var invalid *SettingsError
		errors.As(e.attribute(validErr), &invalid)
		for _, p := range invalid.Problems {
			if !skip[p.Var] {
				all.Problems = append(all.Problems, p)
			}
		}
	}
	all.Problems = sortedProblems(all.Problems)
	return Settings{}, all
}

// applyDefaults fills the defaults that depend on other settings.
func (s *Settings) applyDefaults(e Env) {
	if s.ConsumerGroup == "" {
		s.ConsumerGroup = s.Service
	}
	s.kafkaDefaults()
	s.contentAliased = map[string]bool{}
	for _, a := range []struct {
		content, http string
		set           func()
	}{
		{"CONTENT_CIRCUIT_BREAKER_FAILURE_THRESHOLD", "HTTP_CIRCUIT_BREAKER_FAILURE_THRESHOLD", func() { s.ContentFailureThreshold = s.HTTPFailureThreshold }},
		{"CONTENT_CIRCUIT_BREAKER_RECOVERY_TIMEOUT", "HTTP_CIRCUIT_BREAKER_RECOVERY_TIMEOUT", func() { s.ContentRecoveryTimeout = s.HTTPRecoveryTimeout }},
		{"CONTENT_CIRCUIT_BREAKER_SUCCESS_THRESHOLD", "HTTP_CIRCUIT_BREAKER_SUCCESS_THRESHOLD", func() { s.ContentSuccessThreshold = s.HTTPSuccessThreshold }},
	} {
		_, _, contentSet := e.Lookup(a.content)
		_, _, httpSet := e.Lookup(a.http)
		if !contentSet && httpSet {
			a.set()
			s.contentAliased[a.content] = true
		}
	}
}

// Validate checks every setting and returns all problems as one error
// whose parts are *SettingError values naming the unprefixed variables
// (LoadSettingsFrom renames them to what was set). The Kafka settings are
// checked by kafkabus.Config.Validate, whose ranges they report.
func (s Settings) Validate() error {
	errs := kafkaProblems(s.Kafka)
	bad := func(v, val, want string) {
		errs = append(errs, &SettingError{Var: v, Value: val, Want: want})
	}
	intRange := func(v string, n, lo, hi int) {
		if n < lo || n > hi {
			bad(v, strconv.Itoa(n), fmt.Sprintf("must be between %d and %d", lo, hi))
		}
	}
	durRange := func(v string, d kafkabus.Duration, lo, hi time.Duration) {
		if time.Duration(d) < lo || time.Duration(d) > hi {
			bad(v, d.String(), fmt.Sprintf("must be between %s and %s (seconds, or a Go duration such as 500ms)",
				kafkabus.ShortDuration(lo), kafkabus.ShortDuration(hi)))
		}
	}
	addr := func(v, a string) {
		if _, port, err := net.SplitHostPort(a); err != nil || port == "" {
			bad(v, a, "must be host:port (port 0 picks a free port), such as 127.0.0.1:8080 or :8080")
		} else if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
			bad(v, a, "must be host:port with a port between 0 and 65535")
		}
	}
	addr("HTTP_ADDR", s.HTTPAddr)
	addr("ADMIN_ADDR", s.AdminAddr)
	if s.LogLevel < slog.LevelDebug || s.LogLevel > slog.LevelError {
		bad("LOG_LEVEL", s.LogLevel.String(), "must be debug, info, warn or error")
	}
	durRange("SHUTDOWN_TIMEOUT", s.ShutdownTimeout, 100*time.Millisecond, time.Hour)
	intRange("KAFKA_CONSUMER_MAX_ATTEMPTS", s.ConsumerMaxAttempts, 1, 1000)
	durRange("KAFKA_CONSUMER_RETRY_BACKOFF", s.ConsumerRetryBackoff, time.Millisecond, 10*time.Minute)
	durRange("KAFKA_CONSUMER_RETRY_MAX_BACKOFF", s.ConsumerRetryMaxBackoff, time.Millisecond, 10*time.Minute)
	if s.ConsumerRetryMaxBackoff < s.ConsumerRetryBackoff {
		bad("KAFKA_CONSUMER_RETRY_MAX_BACKOFF", s.ConsumerRetryMaxBackoff.String(),
			"must not be below KAFKA_CONSUMER_RETRY_BACKOFF ("+s.ConsumerRetryBackoff.String()+")")
	}
	durRange("KAFKA_CONSUMER_SESSION_TIMEOUT", s.ConsumerSessionTimeout, 100*time.Millisecond, 30*time.Minute)
	durRange("KAFKA_CONSUMER_IDEMPOTENCY_TTL", s.IdempotencyTTL, time.Second, 365*24*time.Hour)
	intRange("KAFKA_CONSUMER_IDEMPOTENCY_MAX_ENTRIES", s.IdempotencyMaxEntries, 1, 100_000_000)
	breaker := func(prefix string, failures int, recovery kafkabus.Duration, successes int) {
		if !s.contentAliased[prefix+"_CIRCUIT_BREAKER_FAILURE_THRESHOLD"] {
			intRange(prefix+"_CIRCUIT_BREAKER_FAILURE_THRESHOLD", failures, 1, 1_000_000)
		}
		if !s.contentAliased[prefix+"_CIRCUIT_BREAKER_SUCCESS_THRESHOLD"] {
			intRange(prefix+"_CIRCUIT_BREAKER_SUCCESS_THRESHOLD", successes, 1, 1_000_000)
		}
		if !s.contentAliased[prefix+"_CIRCUIT_BREAKER_RECOVERY_TIMEOUT"] {
			durRange(prefix+"_CIRCUIT_BREAKER_RECOVERY_TIMEOUT", recovery, 10*time.Millisecond, 24*time.Hour)
		}
	}
	breaker("HTTP", s.HTTPFailureThreshold, s.HTTPRecoveryTimeout, s.HTTPSuccessThreshold)
	breaker("CONTENT", s.ContentFailureThreshold, s.ContentRecoveryTimeout, s.ContentSuccessThreshold)
	durRange("HTTP_CLIENT_TIMEOUT", s.HTTPClientTimeout, time.Millisecond, time.Hour)
	errs = append(errs, s.databaseProblems()...)
	return errors.Join(errs...)
}

// attribute turns the problems of Validate into a *SettingsError whose
// variables are the ones actually set and whose values are as typed.
func (e Env) attribute(err error) error {
	vars, source := e.resolved()
	var problems []*SettingError
	var collect func(error)
	collect = func(err error) {
		if j, ok := err.(interface{ Unwrap() []error }); ok {
			for _, inner := range j.Unwrap() {
				collect(inner)
			}
			return
		}
		se, ok := errors.AsType[*SettingError](err)
		if !ok {
			// Validate reports nothing else; keep whatever it is visible.
			problems = append(problems, &SettingError{Var: e.prefix + "*", Want: err.Error()})
			return
		}
		p := *se
		if raw, ok := vars[p.Var]; ok {
			p.Value = raw
			if secretVars[p.Var] {
				p.Value = sqldb.Redact(raw)
			}
		}
		p.Var = varName(p.Var, source)
		problems = append(problems, &p)
	}
	collect(err)
	return &SettingsError{Service: e.service, Problems: sortedProblems(problems)}
}

// KafkaBreakerSettings are the settings of the Kafka producer breaker,
// registered as "<service>.kafka_producer" (Kafka.Breaker).
func (s Settings) KafkaBreakerSettings() resilience.Settings {
	b := s.Kafka.Breaker
	return resilience.Settings{
		Name:             b.Name,
		FailureThreshold: b.FailureThreshold,
		RecoveryTimeout:  b.RecoveryTimeout,
		SuccessThreshold: b.SuccessThreshold,
	}
}

// HTTPBreakerSettings are the settings of the HTTP dependency breakers
// (HTTP_CIRCUIT_BREAKER_*; their Name is left empty): the breaker
// registry's defaults.
func (s Settings) HTTPBreakerSettings() resilience.Settings {
	return resilience.Settings{
		FailureThreshold: s.HTTPFailureThreshold,
		RecoveryTimeout:  time.Duration(s.HTTPRecoveryTimeout),
		SuccessThreshold: s.HTTPSuccessThreshold,
	}
}

// ContentDependencies are the dependencies whose HTTP clients are content
// clients: file_service serves the essay texts the spellchecker and CJ
// assessment fetch. Their breakers take the CONTENT_CIRCUIT_BREAKER_*
// settings.
var ContentDependencies = []string{"file_service"}

// HTTPBreakerSettingsFor are the settings of dependency's breaker, named
// "<service>.<dependency>": the content settings for a content client
// (ContentDependencies), the HTTP ones for any other.
func (s Settings) HTTPBreakerSettingsFor(dependency string) resilience.Settings {
	bs := s.HTTPBreakerSettings()
	if slices.Contains(ContentDependencies, dependency) {
		bs = resilience.Settings{
			FailureThreshold: s.ContentFailureThreshold,
			RecoveryTimeout:  time.Duration(s.ContentRecoveryTimeout),
			SuccessThreshold: s.ContentSuccessThreshold,
		}
	}
	bs.Name = s.Service + "." + dependency
	return bs
}

// breakerFor returns the breaker named s.Name from r, creating it with s
// when r has none.
func breakerFor(r *resilience.Registry, s resilience.Settings) (*resilience.CircuitBreaker, error) {
	if cb, ok := r.Get(s.Name); ok {
		return cb, nil
	}
	cb, err := r.Create(s)
	if errors.Is(err, resilience.ErrDuplicateName) {
		// Created meanwhile by another caller: that one is the breaker.
		if cb, ok := r.Get(s.Name); ok {
			return cb, nil
		}
	}
	return cb, err
}

// KafkaProducerBreaker is the name suffix of the Kafka producer breaker:
// the full name is "<service>.kafka_producer".
const KafkaProducerBreaker = "kafka_producer"
