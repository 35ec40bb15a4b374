package kafkabus

import (
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/huleedu/huleedu/resilience"
	"github.com/huleedu/huleedu/spool"
)

// Settings are a service's Kafka publishing settings. The env tags carry
// the original platform's variable names (DESIGN.md §6); package servicekit
// loads them, optionally with the service's name as a prefix.
type Settings struct {
	// CircuitBreakerEnabled selects ResilientBus (true) or the plain
	// KafkaBus (false, the behaviour before breakers existed).
	CircuitBreakerEnabled bool     `env:"CIRCUIT_BREAKER_ENABLED" envDefault:"true"`
	BootstrapServers      []string `env:"KAFKA_BOOTSTRAP_SERVERS" envSeparator:","`

	FailureThreshold int      `env:"KAFKA_CIRCUIT_BREAKER_FAILURE_THRESHOLD" envDefault:"10"`
	RecoveryTimeout  Duration `env:"KAFKA_CIRCUIT_BREAKER_RECOVERY_TIMEOUT" envDefault:"30"`
	SuccessThreshold int      `env:"KAFKA_CIRCUIT_BREAKER_SUCCESS_THRESHOLD" envDefault:"3"`

	FallbackQueueSize int            `env:"KAFKA_FALLBACK_QUEUE_SIZE" envDefault:"1000"`
	FallbackMode      FallbackMode   `env:"KAFKA_FALLBACK_MODE" envDefault:"memory"`
	FallbackDir       string         `env:"KAFKA_FALLBACK_DIR"`
	FallbackMaxBytes  int64          `env:"KAFKA_FALLBACK_MAX_BYTES" envDefault:"1073741824"`
	FallbackOverflow  spool.Overflow `env:"KAFKA_FALLBACK_OVERFLOW" envDefault:"block"`

	// PublishTimeout bounds one produce, retries included.
	PublishTimeout Duration `env:"KAFKA_PUBLISH_TIMEOUT" envDefault:"10s"`
}

// DefaultSettings returns the settings the env defaults above describe.
func DefaultSettings() Settings {
	return Settings{
		CircuitBreakerEnabled: true,
		FailureThreshold:      10,
		RecoveryTimeout:       Duration(30 * time.Second),
		SuccessThreshold:      3,
		FallbackQueueSize:     1000,
		FallbackMode:          FallbackMemory,
		FallbackMaxBytes:      1 << 30,
		FallbackOverflow:      spool.OverflowBlock,
		PublishTimeout:        Duration(10 * time.Second),
	}
}

// SettingError names the variable whose value is invalid and the range it
// accepts.
type SettingError struct {
	Var   string // e.g. KAFKA_CIRCUIT_BREAKER_FAILURE_THRESHOLD
	Value string
	Want  string
}

func (e *SettingError) Error() string {
	return fmt.Sprintf("%s=%q: %s", e.Var, e.Value, e.Want)
}

// Validate checks every field and returns all problems, each a
// *SettingError.
func (s Settings) Validate() error {
	var errs []error
	bad := func(v, val, want string) { errs = append(errs, &SettingError{Var: v, Value: val, Want: want}) }
	intRange := func(v string, n, lo, hi int) {
		if n < lo || n > hi {
			bad(v, strconv.Itoa(n), fmt.Sprintf("must be between %d and %d", lo, hi))
		}
	}
	if len(s.BootstrapServers) == 0 {
		bad("KAFKA_BOOTSTRAP_SERVERS", "", "must list at least one host:port")
	}
	for _, b := range s.BootstrapServers {
		if _, _, ok := strings.Cut(b, ":"); !ok || strings.TrimSpace(b) != b {
			bad("KAFKA_BOOTSTRAP_SERVERS", strings.Join(s.BootstrapServers, ","), "must be a comma-separated list of host:port")
			break
		}
	}
	intRange("KAFKA_CIRCUIT_BREAKER_FAILURE_THRESHOLD", s.FailureThreshold, 1, 1_000_000)
	intRange("KAFKA_CIRCUIT_BREAKER_SUCCESS_THRESHOLD", s.SuccessThreshold, 1, 1_000_000)
	if d := time.Duration(s.RecoveryTimeout); d < 10*time.Millisecond || d > 24*time.Hour {
		bad("KAFKA_CIRCUIT_BREAKER_RECOVERY_TIMEOUT", d.String(), "must be between 10ms and 24h (seconds, or a Go duration such as 500ms)")
	}
	if d := time.Duration(s.PublishTimeout); d < time.Millisecond || d > time.Hour {
		bad("KAFKA_PUBLISH_TIMEOUT", d.String(), "must be between 1ms and 1h")
	}
	switch s.FallbackMode {
	case FallbackMemory:
		intRange("KAFKA_FALLBACK_QUEUE_SIZE", s.FallbackQueueSize, 1, 100_000_000)
	case FallbackDisk:
		if s.FallbackDir == "" {
			bad("KAFKA_FALLBACK_DIR", "", "must be set when KAFKA_FALLBACK_MODE=disk")
		}
		if s.FallbackMaxBytes < 1<<20 {
			bad("KAFKA_FALLBACK_MAX_BYTES", strconv.FormatInt(s.FallbackMaxBytes, 10), "must be at least 1048576 (1 MiB)")
		}
	default:
		bad("KAFKA_FALLBACK_MODE", string(s.FallbackMode), "must be disk or memory")
	}
	if s.FallbackOverflow != spool.OverflowBlock && s.FallbackOverflow != spool.OverflowReject {
		bad("KAFKA_FALLBACK_OVERFLOW", s.FallbackOverflow.String(), "must be block or reject")
	}
	return errors.Join(errs...)
}

// BreakerSettings returns the breaker settings these Settings describe,
// named name (by convention "<service>.kafka_producer").
func (s Settings) BreakerSettings(name string) resilience.Settings {
	return resilience.Settings{
		Name:             name,
		FailureThreshold: s.FailureThreshold,
		RecoveryTimeout:  time.Duration(s.RecoveryTimeout),
		SuccessThreshold: s.SuccessThreshold,
	}
}

// OpenQueue opens the fallback queue these Settings describe.
func (s Settings) OpenQueue(logger *slog.Logger) (spool.Queue, error) {
	switch s.FallbackMode {
	case FallbackDisk:
		return spool.OpenDisk(s.FallbackDir, spool.DiskOptions{
			MaxBytes: s.FallbackMaxBytes,
			Overflow: s.FallbackOverflow,
			Logger:   logger,
		})
	case FallbackMemory:
		return spool.NewMemory(spool.MemoryOptions{MaxRecords: s.FallbackQueueSize, Overflow: s.FallbackOverflow})
	}
	return nil, &SettingError{Var: "KAFKA_FALLBACK_MODE", Value: string(s.FallbackMode), Want: "must be disk or memory"}
}

// FallbackMode selects the fallback queue: "memory" (bounded in records,
// lost with the process) or "disk" (the durable spool, bounded in bytes).
type FallbackMode string

// The fallback modes.
const (
	FallbackMemory FallbackMode = "memory"
	FallbackDisk   FallbackMode = "disk"
)

// Duration is a time.Duration that reads either whole seconds ("30", the
// original platform's unit) or a Go duration ("500ms").
type Duration time.Duration

// UnmarshalText implements encoding.TextUnmarshaler.
func (d *Duration) UnmarshalText(b []byte) error {
	s := strings.TrimSpace(string(b))
	if n, err := strconv.ParseFloat(s, 64); err == nil {
		*d = Duration(n * float64(time.Second))
		return nil
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("%q is neither seconds nor a Go duration (like 30 or 500ms)", s)
	}
	*d = Duration(v)
	return nil
}

// String formats the duration as Go does.
func (d Duration) String() string { return time.Duration(d).String() }
