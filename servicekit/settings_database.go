package servicekit

import (
	"fmt"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/huleedu/huleedu/kafkabus"
	"github.com/huleedu/huleedu/outbox"
	"github.com/huleedu/huleedu/sqldb"
)

// The settings of a service's database and outbox relay, each optionally
// prefixed with the service's name (FILE_SERVICE_DATABASE_URL):
//
//	DATABASE_URL                  postgres://... (or sqlite:PATH); unset: SQLite in the data directory
//	DATABASE_SCHEMA               PostgreSQL schema of the service's tables; default the service name,
//	                              so services can share one database
//	DATABASE_MAX_CONNS            PostgreSQL pool size; 0: pgxpool's default (max(4, CPUs))
//	DATABASE_CONNECT_TIMEOUT      bound on opening one PostgreSQL connection
//	HULEEDU_DATA_DIR (DATA_DIR)   local state: <dir>/<service>/<service>.sqlite, the disk spool
//	KAFKA_FALLBACK_MODE=outbox    the default with a database: events go through the outbox
//	OUTBOX_POLL_INTERVAL_SECONDS, OUTBOX_BATCH_SIZE, OUTBOX_LEASE_TTL,
//	OUTBOX_RETRY_MIN, OUTBOX_RETRY_MAX, OUTBOX_RETENTION   the relay (outbox.RelayOptions)

// FallbackOutbox is KAFKA_FALLBACK_MODE's value for publishing through the
// service's outbox.
const FallbackOutbox = "outbox"

// PublishMode is how a service publishes its events.
type PublishMode string

// The publish modes; see Settings.PublishMode.
const (
	// PublishOutbox writes each event into the service's outbox table in
	// the transaction of the state change that caused it; the relay
	// publishes it after the commit, through the producer breaker.
	PublishOutbox PublishMode = "outbox"
	// PublishResilient publishes through the ResilientBus: the producer
	// breaker in front of Kafka and the memory or disk fallback queue.
	PublishResilient PublishMode = "resilient"
	// PublishPlain publishes through the plain KafkaBus
	// (CIRCUIT_BREAKER_ENABLED=false).
	PublishPlain PublishMode = "plain"
)

// secretVars are variables whose values never appear in messages as
// typed: a database URL may hold a password.
var secretVars = map[string]bool{"DATABASE_URL": true}

// schemaPattern is what DATABASE_SCHEMA may be (sqldb.Options.Schema).
var schemaPattern = regexp.MustCompile(`^[a-z_][a-z0-9_]{0,62}$`)

// databaseFrom reads what the database settings take from the
// environment beyond their tags: the data directory and its two names,
// the variable each setting came from, the fallback mode asked for, and
// the schema's default.
func (s *Settings) databaseFrom(e Env) {
	s.sources = map[string]string{}
	s.DataDir, s.sources["HULEEDU_DATA_DIR"] = dataDir(e)
	if _, from, ok := e.Lookup("DATABASE_URL"); ok {
		s.sources["DATABASE_URL"] = from
	}
	if v, from, ok := e.Lookup("KAFKA_FALLBACK_MODE"); ok {
		s.fallback, s.sources["KAFKA_FALLBACK_MODE"] = v, from
		if v == FallbackOutbox {
			// Not a fallback queue: kafkabus's queue stays at its
			// default, unused in outbox mode.
			s.Kafka.Fallback.Mode = kafkabus.FallbackMemory
		}
	}
	if s.DatabaseSchema == "" {
		s.DatabaseSchema = schemaName(s.Service)
	}
}

// DataDir returns the data directory e configures for its service:
// HULEEDU_DATA_DIR, else DATA_DIR (its older name), each optionally
// prefixed, else the default (see Settings.DataDir).
func DataDir(e Env) string {
	dir, _ := dataDir(e)
	return dir
}

// dataDir is DataDir and the variable it came from ("" for the default).
func dataDir(e Env) (dir, from string) {
	if v, from, ok := e.Lookup("HULEEDU_DATA_DIR"); ok {
		return v, from
	}
	if v, from, ok := e.Lookup("DATA_DIR"); ok {
		return v, from
	}
	return defaultDataDir(e), ""
}

// defaultDataDir is the data directory when none is set:
// $XDG_DATA_HOME/huleedu, else ~/.local/share/huleedu (the XDG base
// directory default), else "data" in the working directory when there is
// no home.
func defaultDataDir(e Env) string {
	if x, _, ok := e.Lookup("XDG_DATA_HOME"); ok && filepath.IsAbs(x) {
		return filepath.Join(x, "huleedu")
	}
	if h, _, ok := e.Lookup("HOME"); ok && filepath.IsAbs(h) {
		return filepath.Join(h, ".local", "share", "huleedu")
	}
	return "data"
}

// schemaName turns a service name into a schema name:
// "file_service" stays, "file-service" becomes "file_service".
func schemaName(service string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(service) {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '_' {
			b.WriteRune(r)
		} else {
			b.WriteByte('_')
		}
	}
	name := b.String()
	if name == "" || name[0] >= '0' && name[0] <= '9' {
		name = "_" + name
	}
	return name[:min(len(name), 63)]
}

// databaseProblems checks the database and outbox settings.
func (s Settings) databaseProblems() []error {
	var errs []error
	bad := func(v, val, want string) { errs = append(errs, &SettingError{Var: v, Value: val, Want: want}) }
	durRange := func(v string, d kafkabus.Duration, lo, hi time.Duration) {
		if time.Duration(d) < lo || time.Duration(d) > hi {
			bad(v, d.String(), fmt.Sprintf("must be between %s and %s (seconds, or a Go duration such as 500ms)",
				kafkabus.ShortDuration(lo), kafkabus.ShortDuration(hi)))
		}
	}
	if u := s.DatabaseURL; u != "" && !strings.HasPrefix(u, "postgres://") && !strings.HasPrefix(u, "postgresql://") &&
		!strings.HasPrefix(u, "sqlite:") {
		bad("DATABASE_URL", sqldb.Redact(u), "must be a postgres:// (or postgresql://) URL, or sqlite:PATH for a SQLite file; "+
			"unset, the service keeps a SQLite file in HULEEDU_DATA_DIR")
	}
	if !schemaPattern.MatchString(s.DatabaseSchema) {
		bad("DATABASE_SCHEMA", s.DatabaseSchema, "must be lower-case letters, digits and _, starting with a letter or _, at most 63")
	}
	if s.DatabaseMaxConns < 0 || s.DatabaseMaxConns > 10_000 {
		bad("DATABASE_MAX_CONNS", fmt.Sprint(s.DatabaseMaxConns), "must be between 0 and 10000 (0: pgxpool's default, the greater of 4 and the CPUs)")
	}
	durRange("DATABASE_CONNECT_TIMEOUT", s.DatabaseConnectTimeout, 100*time.Millisecond, 10*time.Minute)
	durRange("OUTBOX_POLL_INTERVAL_SECONDS", s.OutboxPollInterval, 10*time.Millisecond, time.Hour)
	if s.OutboxBatchSize < 1 || s.OutboxBatchSize > outbox.MaxBatchSize {
		bad("OUTBOX_BATCH_SIZE", fmt.Sprint(s.OutboxBatchSize), fmt.Sprintf("must be between 1 and %d", outbox.MaxBatchSize))
	}
	if ttl := time.Duration(s.OutboxLeaseTTL); ttl != 0 {
		if least := s.Kafka.PublishTimeout * 5 / 2; ttl < least || ttl > time.Hour {
			bad("OUTBOX_LEASE_TTL", s.OutboxLeaseTTL.String(), fmt.Sprintf(
				"must be between 2.5 x KAFKA_PUBLISH_TIMEOUT (%s) and 1h, so a produce in flight ends before its lease can pass to another relay (unset: %s)",
				kafkabus.ShortDuration(least), kafkabus.ShortDuration(s.defaultLeaseTTL())))
		}
	}
	durRange("OUTBOX_RETRY_MIN", s.OutboxRetryMin, time.Millisecond, time.Hour)
	durRange("OUTBOX_RETRY_MAX", s.OutboxRetryMax, time.Millisecond, time.Hour)
	if s.OutboxRetryMax < s.OutboxRetryMin {
		bad("OUTBOX_RETRY_MAX", s.OutboxRetryMax.String(), "must not be below OUTBOX_RETRY_MIN ("+s.OutboxRetryMin.String()+")")
	}
	if r := time.Duration(s.OutboxRetention); r < 0 || r > 365*24*time.Hour {
		bad("OUTBOX_RETENTION", s.OutboxRetention.String(), "must be between 0 (delete rows once published) and 8760h")
	}
	return errs
}

// relayLeaseTTL is the relay's lease time: OUTBOX_LEASE_TTL, or by
// default the greater of outbox's default and 3 x KAFKA_PUBLISH_TIMEOUT.
func (s Settings) relayLeaseTTL() time.Duration {
	if ttl := time.Duration(s.OutboxLeaseTTL); ttl > 0 {
		return ttl
	}
	return s.defaultLeaseTTL()
}

func (s Settings) defaultLeaseTTL() time.Duration {
	return max(outbox.DefaultLeaseTTL, 3*s.Kafka.PublishTimeout)
}

// RelayOptions are the outbox relay's options from the OUTBOX_*
// variables; a produce is bounded by KAFKA_PUBLISH_TIMEOUT.
func (s Settings) RelayOptions() outbox.RelayOptions {
	return outbox.RelayOptions{
		BatchSize:      s.OutboxBatchSize,
		PollInterval:   time.Duration(s.OutboxPollInterval),
		ProduceTimeout: s.Kafka.PublishTimeout,
		LeaseTTL:       s.relayLeaseTTL(),
		RetryMin:       time.Duration(s.OutboxRetryMin),
		RetryMax:       time.Duration(s.OutboxRetryMax),
		Retention:      time.Duration(s.OutboxRetention),
	}
}

// PublishMode says how the service publishes, given whether it keeps a
// database:
//
//   - with a database: PublishOutbox, unless KAFKA_FALLBACK_MODE asks for
//     memory or disk (then PublishResilient: state and events are not
//     committed together, as without a database) or
//     CIRCUIT_BREAKER_ENABLED=false without KAFKA_FALLBACK_MODE=outbox
//     (PublishPlain, as before breakers existed);
//   - without one: PublishResilient, or PublishPlain with breakers
//     disabled.
//
// KAFKA_FALLBACK_MODE=outbox on a service without a database, or with
// breakers disabled (the relay publishes behind the breaker), is a
// *SettingsError naming the variable.
func (s Settings) PublishMode(hasDatabase bool) (PublishMode, error) {
	refuse := func(want string) (PublishMode, error) {
		return "", &SettingsError{Service: s.Service, Problems: []*SettingError{{
			Var: s.sources["KAFKA_FALLBACK_MODE"], Value: s.fallback, Want: want}}}
	}
	switch {
	case s.fallback == FallbackOutbox && !hasDatabase:
		return refuse(s.Service + " keeps no database, so it has no outbox: must be memory or disk")
	case s.fallback == FallbackOutbox && !s.CircuitBreakerEnabled:
		return refuse("needs CIRCUIT_BREAKER_ENABLED=true: the outbox relay publishes behind the Kafka producer breaker")
	case !s.CircuitBreakerEnabled:
		return PublishPlain, nil
	case hasDatabase && (s.fallback == "" || s.fallback == FallbackOutbox):
		return PublishOutbox, nil
	}
	return PublishResilient, nil
}

// DatabaseSource is what the service's database is opened from: the
// DATABASE_URL as set, or the SQLite file in the data directory; and the
// variable that says so, for messages.
func (s Settings) DatabaseSource() (dsn, variable string) {
	if s.DatabaseURL != "" {
		return s.DatabaseURL, s.sources["DATABASE_URL"]
	}
	variable = s.sources["HULEEDU_DATA_DIR"]
	if variable == "" {
		variable = "HULEEDU_DATA_DIR (unset: the default)"
	}
	return filepath.Join(s.DataDir, s.Service, s.Service+".sqlite"), variable
}
