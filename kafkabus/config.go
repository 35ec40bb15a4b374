package kafkabus

import (
	"cmp"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"go.opentelemetry.io/otel/trace"

	"github.com/huleedu/huleedu/resilience"
	"github.com/huleedu/huleedu/spool"
)

// Config is the whole publishing side in one value: the KafkaBus
// (Options, embedded), the circuit breaker in front of it, the fallback
// queue behind it and the drainer that replays the queue. Open builds what
// it describes. Every zero value means the default its comment names, so
//
//	kafkabus.Config{Options: kafkabus.Options{Brokers: brokers}}
//
// is a ResilientBus with a 1000-record memory queue.
//
// EnsureDefaults fills the defaults and Validate checks the ranges; Open
// calls both, in that order. Validate sees a config as it will run, so a
// zero that EnsureDefaults would have replaced is out of range there:
// that is how package servicekit rejects KAFKA_CIRCUIT_BREAKER_FAILURE_THRESHOLD=0
// and the drill --failure-threshold 0 (both start from the defaults and
// set what the user gave). Every problem is a *ConfigError naming the
// field and the accepted range.
//
// Config has no env tags: servicekit maps the environment onto it (see
// servicekit.LoadSettings) and the drill embeds it, so a service and the
// drill run the same configuration. Its JSON form (durations in
// nanoseconds, as encoding/json writes a time.Duration) carries every
// field but the live objects (KgoOpts, Logger, Registry, Tracer, Latency,
// WrapProducer).
type Config struct {
	// Options configure the KafkaBus: Brokers (required), ClientID,
	// PublishTimeout, AllowAutoTopicCreation, MaxRecordBytes, Linger,
	// MetadataMinAge, KgoOpts and Logger. Logger serves the whole
	// publishing side: the KafkaBus, the ResilientBus and the disk spool.
	Options

	// Breaker configures the circuit breaker in front of Kafka, or turns
	// it off together with the fallback queue.
	Breaker BreakerConfig `json:"breaker"`
	// Fallback configures the queue that holds accepted records while
	// Kafka is unavailable.
	Fallback FallbackConfig `json:"fallback"`
	// Drain configures the drainer that replays the queue.
	Drain DrainConfig `json:"drain"`

	// StartupCheck, when above zero, makes Open ping the brokers and fail
	// with an error wrapping ErrUnavailable, naming them, when none
	// answers within it (at most 1h). Default 0: no check. It is off by
	// default because a ResilientBus exists to accept records while Kafka
	// is unreachable: a service restarted during an outage should come up
	// and spool. Turn it on where a wrong broker address should fail the
	// start instead (a staging rollout, a command-line tool); the first
	// failed publish and every breaker transition are logged either way.
	StartupCheck time.Duration `json:"startup_check"`

	// Registry, when set, receives the breaker (Breaker.Name must then be
	// free in it), so that operators, metrics and listeners find it.
	Registry *resilience.Registry `json:"-"`
	// Tracer makes the kafka.publish and kafka.replay spans (nil: the
	// global OpenTelemetry provider's).
	Tracer trace.Tracer `json:"-"`
	// Latency, when set, observes every Publish call's duration in
	// seconds (a prometheus.Histogram fits).
	Latency interface{ Observe(float64) } `json:"-"`
	// WrapProducer, when set, is given the KafkaBus and returns the
	// Producer the ResilientBus sends through: for instrumentation, or a
	// test that plants misbehaviour between the bus and Kafka. Close
	// closes the KafkaBus whether or not the wrapper passes Close on.
	WrapProducer func(Producer) Producer `json:"-"`
}

// BreakerConfig configures the Kafka producer's circuit breaker.
type BreakerConfig struct {
	// Disabled publishes through the plain KafkaBus: no breaker, no
	// fallback queue, every Publish waits for Kafka's answer
	// (CIRCUIT_BREAKER_ENABLED=false). Default false.
	Disabled bool `json:"disabled"`
	// Name names the breaker in errors, metrics and the Registry.
	// Default ClientID + ".kafka_producer".
	Name string `json:"name"`
	// FailureThreshold is the number of consecutive infrastructure
	// failures that opens the circuit, 1 to 1,000,000. Default 10.
	FailureThreshold int `json:"failure_threshold"`
	// RecoveryTimeout is how long the circuit stays open before a probe,
	// 10ms to 24h. Default 30s.
	RecoveryTimeout time.Duration `json:"recovery_timeout"`
	// SuccessThreshold is the number of successful probes that close the
	// circuit again, 1 to 1,000,000. Default 3.
	SuccessThreshold int `json:"success_threshold"`
}

// FallbackConfig configures the fallback queue.
type FallbackConfig struct {
	// Mode is FallbackMemory (default: bounded in records, lost with the
	// process; Close reports the rest) or FallbackDisk (the durable
	// spool in Dir, bounded in bytes, replayed by the next process).
	Mode FallbackMode `json:"mode"`
	// QueueSize is the memory queue's limit in records, 1 to 100,000,000.
	// Default 1000.
	QueueSize int `json:"queue_size"`
	// Dir is the disk spool's directory, one process per directory.
	// Required in disk mode.
	Dir string `json:"dir"`
	// MaxBytes is the disk spool's limit in bytes, at least 1 MiB.
	// Default 1 GiB.
	MaxBytes int64 `json:"max_bytes"`
	// Overflow says what Publish does when the queue is full:
	// spool.OverflowBlock (default: wait for room until the caller's
	// context ends) or spool.OverflowReject (fail at once with
	// spool.ErrFull).
	Overflow spool.Overflow `json:"overflow"`
}

// DrainConfig configures the drainer that replays the fallback queue.
type DrainConfig struct {
	// Batch is the most records one replay produce carries while the
	// circuit is closed, 1 to 100,000. Default 500. While half-open the
	// drainer probes with a single record.
	Batch int `json:"batch"`
	// InFlight is how many replay batches may be produced at once while
	// the circuit is closed and the queue can read ahead, 1 to 1024.
	// Default 8 (about 4 MB of 1 KiB records). 1 replays one batch at a
	// time.
	InFlight int `json:"in_flight"`
	// RetryMin and RetryMax bound the exponential back-off after a failed
	// replay that did not open the circuit, 1ms to 1h each, RetryMax at
	// least RetryMin. Defaults 100ms and 5s.
	RetryMin time.Duration `json:"retry_min"`
	RetryMax time.Duration `json:"retry_max"`
	// OpenPoll is the longest the drainer sleeps while the circuit is
	// open before asking the breaker again, 1ms to 1h. Default 1s. It
	// also sleeps no longer than until the breaker's announced probe
	// time, and wakes at once when the breaker leaves the open state.
	OpenPoll time.Duration `json:"open_poll"`
}

// FallbackMode selects the fallback queue: "memory" (bounded in records,
// lost with the process) or "disk" (the durable spool, bounded in bytes).
type FallbackMode string

// The fallback modes.
const (
	FallbackMemory FallbackMode = "memory"
	FallbackDisk   FallbackMode = "disk"
)

// Defaults of Config.
const (
	DefaultFailureThreshold  = 10
	DefaultRecoveryTimeout   = 30 * time.Second
	DefaultSuccessThreshold  = 3
	DefaultQueueSize         = 1000
	DefaultMaxBytes          = 1 << 30
	DefaultDrainBatch        = 500
	DefaultDrainInFlight     = 8
	DefaultRetryMin          = 100 * time.Millisecond
	DefaultRetryMax          = 5 * time.Second
	DefaultOpenPoll          = time.Second
	defaultBreakerNameSuffix = ".kafka_producer"
)

// EnsureDefaults replaces every zero value by its default. Defaults that
// depend on other fields follow them: Breaker.Name is ClientID plus
// ".kafka_producer", MetadataMinAge a tenth of PublishTimeout. The live
// objects stay nil; Open resolves them (Logger: slog.Default()).
func (c *Config) EnsureDefaults() {
	c.Options.ensureDefaults()
	b := &c.Breaker
	if b.Name == "" {
		b.Name = c.ClientID + defaultBreakerNameSuffix
	}
	setZero(&b.FailureThreshold, DefaultFailureThreshold)
	setZero(&b.RecoveryTimeout, DefaultRecoveryTimeout)
	setZero(&b.SuccessThreshold, DefaultSuccessThreshold)
	f := &c.Fallback
	setZero(&f.Mode, FallbackMemory)
	setZero(&f.QueueSize, DefaultQueueSize)
	setZero(&f.MaxBytes, DefaultMaxBytes)
	c.Drain.ensureDefaults()
}

// Validate checks c as it will run, after EnsureDefaults, and returns every
// problem at once (errors.Join of *ConfigError values; errors.Is(err,
// ErrInvalidConfig) holds). The live objects are not checked.
func (c Config) Validate() error {
	ck := checker{in: "Config"}
	c.Options.check(&ck)
	b := c.Breaker
	if b.Name == "" && !b.Disabled {
		ck.bad("Breaker.Name", `""`, "must not be empty", `ClientID + "`+defaultBreakerNameSuffix+`"`)
	}
	ck.intRange("Breaker.FailureThreshold", b.FailureThreshold, 1, 1_000_000, DefaultFailureThreshold)
	ck.durRange("Breaker.RecoveryTimeout", b.RecoveryTimeout, 10*time.Millisecond, 24*time.Hour, DefaultRecoveryTimeout)
	ck.intRange("Breaker.SuccessThreshold", b.SuccessThreshold, 1, 1_000_000, DefaultSuccessThreshold)
	f := c.Fallback
	switch f.Mode {
	case FallbackMemory:
		ck.intRange("Fallback.QueueSize", f.QueueSize, 1, 100_000_000, DefaultQueueSize)
	case FallbackDisk:
		if f.Dir == "" {
			ck.bad("Fallback.Dir", `""`, "must be set in disk mode", "")
		}
		if f.MaxBytes < 1<<20 {
			ck.bad("Fallback.MaxBytes", strconv.FormatInt(f.MaxBytes, 10), "must be at least 1048576 (1 MiB)", strconv.Itoa(DefaultMaxBytes))
		}
	default:
		ck.bad("Fallback.Mode", string(f.Mode), "must be disk or memory", string(FallbackMemory))
	}
	if f.Overflow != spool.OverflowBlock && f.Overflow != spool.OverflowReject {
		ck.bad("Fallback.Overflow", f.Overflow.String(), "must be block or reject", "block")
	}
	c.Drain.check(&ck, drainField)
	if c.StartupCheck != 0 {
		ck.durRange("StartupCheck", c.StartupCheck, time.Millisecond, time.Hour, 0)
	}
	return ck.err()
}

// drainField names DrainConfig's fields within Config.
func drainField(f string) string { return "Drain." + f }

func (d *DrainConfig) ensureDefaults() {
	setZero(&d.Batch, DefaultDrainBatch)
	setZero(&d.InFlight, DefaultDrainInFlight)
	setZero(&d.RetryMin, DefaultRetryMin)
	setZero(&d.RetryMax, DefaultRetryMax)
	setZero(&d.OpenPoll, DefaultOpenPoll)
}

// check reports d's problems, naming each field through name.
func (d DrainConfig) check(ck *checker, name func(string) string) {
	ck.intRange(name("Batch"), d.Batch, 1, 100_000, DefaultDrainBatch)
	ck.intRange(name("InFlight"), d.InFlight, 1, 1024, DefaultDrainInFlight)
	ck.durRange(name("RetryMin"), d.RetryMin, time.Millisecond, time.Hour, DefaultRetryMin)
	ck.durRange(name("RetryMax"), d.RetryMax, time.Millisecond, time.Hour, DefaultRetryMax)
	if d.RetryMax < d.RetryMin && d.RetryMin > 0 {
		ck.bad(name("RetryMax"), d.RetryMax.String(), "must not be below "+name("RetryMin")+" ("+d.RetryMin.String()+")", "")
	}
	ck.durRange(name("OpenPoll"), d.OpenPoll, time.Millisecond, time.Hour, DefaultOpenPoll)
}

// breakerSettings are the resilience.Settings of the breaker c describes.
func (c *Config) breakerSettings() resilience.Settings {
	return resilience.Settings{
		Name:             c.Breaker.Name,
		FailureThreshold: c.Breaker.FailureThreshold,
		RecoveryTimeout:  c.Breaker.RecoveryTimeout,
		SuccessThreshold: c.Breaker.SuccessThreshold,
	}
}

// ErrInvalidConfig is matched (errors.Is) by every *ConfigError.
var ErrInvalidConfig = errors.New("kafkabus: invalid configuration")

// ConfigError reports a field of Config, Options or ResilientOptions whose
// value is outside the accepted range. Package servicekit turns Field into
// the environment variable that set it, the drill into its flag.
type ConfigError struct {
	// Field is the field's path: "Brokers", "Breaker.FailureThreshold",
	// "Drain.RetryMax" in a Config; "PublishTimeout" in Options;
	// "DrainBatch" in ResilientOptions.
	Field string
	// Value is the value given, as text.
	Value string
	// Want is the accepted range, such as "must be between 1 and 1000000".
	Want string
	// Default is what the zero value of the field stands for, "" when
	// the zero value is not replaced by a default.
	Default string

	in string // the struct Field belongs to, for Error
}

// Error returns, for example, "kafkabus: Config.Breaker.FailureThreshold
// = -1: must be between 1 and 1000000 (the zero value means 10)".
func (e *ConfigError) Error() string {
	msg := fmt.Sprintf("kafkabus: %s.%s = %s: %s", cmp.Or(e.in, "Config"), e.Field, e.Value, e.Want)
	if e.Default != "" {
		msg += " (the zero value means " + e.Default + ")"
	}
	return msg
}

// Is reports whether target is ErrInvalidConfig.
func (e *ConfigError) Is(target error) bool { return target == ErrInvalidConfig }

// checker collects the problems of one validation.
type checker struct {
	in   string
	errs []error
}

func (ck *checker) bad(field, value, want, def string) {
	ck.errs = append(ck.errs, &ConfigError{Field: field, Value: value, Want: want, Default: def, in: ck.in})
}

func (ck *checker) intRange(field string, v, lo, hi, def int) {
	if v < lo || v > hi {
		ck.bad(field, strconv.Itoa(v), fmt.Sprintf("must be between %d and %d", lo, hi), defText(def))
	}
}

func (ck *checker) durRange(field string, v, lo, hi, def time.Duration) {
	if v < lo || v > hi {
		ck.bad(field, v.String(), fmt.Sprintf("must be between %s and %s", ShortDuration(lo), ShortDuration(hi)), defText(def))
	}
}

func (ck *checker) err() error { return errors.Join(ck.errs...) }

// defText is the text of a default, "" for none.
func defText[T int | time.Duration](def T) string {
	if def == 0 {
		return ""
	}
	if d, ok := any(def).(time.Duration); ok {
		return ShortDuration(d)
	}
	return fmt.Sprint(def)
}

// ShortDuration formats d as time.Duration.String does, without the zero
// units it appends to whole minutes and hours: "24h" rather than
// "24h0m0s", "10m" rather than "10m0s".
func ShortDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = s[:len(s)-2]
	}
	if strings.HasSuffix(s, "h0m") {
		s = s[:len(s)-2]
	}
	return s
}

// setZero sets *p to def if it is the zero value.
func setZero[T comparable](p *T, def T) {
	var zero T
	if *p == zero {
		*p = def
	}
}
