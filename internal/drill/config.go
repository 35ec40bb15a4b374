package drill

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os/exec"
	"slices"
	"strings"
	"time"

	"github.com/huleedu/huleedu/embeddedkafka"
	"github.com/huleedu/huleedu/kafkabus"
)

// ErrInvalidConfig is wrapped by every error Validate returns, so a command
// line can tell a usage error (exit status 2) from a drill that ran and
// failed.
var ErrInvalidConfig = errors.New("drill: invalid configuration")

// Config describes one drill: the publishing side under test, a
// kafkabus.Config (embedded, so its fields are the drill's), and the
// workload, faults and timeouts around it. The zero value of every field
// means its default (DefaultConfig lists them); the field names match the
// command line's flags, and Validate's messages name the flags.
type Config struct {
	// Config is the publishing side the drill runs, exactly as a service
	// would from its KAFKA_* variables: kafkabus.Open builds it. Its
	// Brokers select an existing cluster; empty, the drill starts an
	// embedded EmbeddedBrokers-broker kfake cluster with its data dir in a
	// temp folder and publishes to it. Fallback.Dir empty means a temp
	// folder for the disk spool (kept when records are left in it).
	//
	// The drill's defaults differ from a service's where it measures
	// recovery: PublishTimeout 1s, Breaker.FailureThreshold 5,
	// RecoveryTimeout 2s, SuccessThreshold 2, the disk spool (a memory
	// queue of 100,000 records with Fallback.Mode memory), and a drainer
	// that retries after 50ms to 1s and polls an open breaker every 250ms;
	// ClientID "huleedu-drill", breaker "drill.kafka_producer". The rest
	// are kafkabus's. Logger receives the drill's and the bus's lines (nil:
	// discard, unlike kafkabus: the drill shows its own progress).
	kafkabus.Config

	// EmbeddedBrokers is the embedded cluster's size (default 3).
	EmbeddedBrokers int
	// Topic is the topic the workload writes (default "drill"); it is
	// created with Partitions partitions (default 6) when missing.
	Topic      string
	Partitions int

	// Duration is the workload's length (default 30s); Rate its records
	// per second (default 2000); Size the value bytes of each record
	// (default 1024, padded); Keys the number of distinct partition keys
	// (default 100).
	Duration time.Duration
	Rate     int
	Size     int
	Keys     int
	// Workers is the number of publishing goroutines (default 32). Each
	// key is always published by the same worker, one record at a time, so
	// acceptance order per key is seq order.
	Workers int

	// Fault is the fault injected during each outage: one of the
	// embeddedkafka fault kinds. Empty means "cut" on the embedded cluster
	// and "none" with Brokers (every fault but none needs the embedded
	// cluster).
	Fault string
	// Outages are the fault windows. Nil means one outage a third of
	// Duration long starting at 8/30 of it (10s@8s for 30s). Must be empty
	// when Fault is none.
	Outages []Outage

	// CrashAt, when set, SIGKILLs the publishing process at that time and
	// restarts it on the same spool (disk only). The publisher then runs
	// as a child process built by ChildCommand. 0: no crash.
	CrashAt time.Duration
	// ChildCommand builds the command that runs ServeChild in a new
	// process (for example the same binary with a hidden subcommand).
	// Required with CrashAt.
	ChildCommand func(ctx context.Context) *exec.Cmd

	// DrainTimeout bounds the bus's Close after the workload (default
	// 60s); VerifyTimeout bounds reading the topic back (default 60s).
	DrainTimeout  time.Duration
	VerifyTimeout time.Duration

	// Progress, when set, receives a snapshot every ProgressInterval
	// (default 1s) and once at each phase change. Calls never overlap; it
	// must return quickly, since the sampler waits for it.
	Progress         func(Progress)
	ProgressInterval time.Duration
}

// DefaultConfig returns the configuration of a drill run with no flags.
func DefaultConfig() Config {
	var c Config
	c.EnsureDefaults()
	return c
}

// Outage is one fault window: the fault starts Start after the workload
// began and is healed Length later.
type Outage struct {
	Start  time.Duration // after the workload's start
	Length time.Duration // how long the fault lasts
}

// End is when the outage is healed.
func (o Outage) End() time.Duration { return o.Start + o.Length }

// String formats the outage as the flag syntax LEN@START.
func (o Outage) String() string { return o.Length.String() + "@" + o.Start.String() }

// ParseOutage parses the flag syntax LEN@START, for example "10s@8s": a
// fault lasting 10 s that starts 8 s into the workload.
func ParseOutage(s string) (Outage, error) {
	length, start, ok := strings.Cut(s, "@")
	if !ok {
		return Outage{}, fmt.Errorf("%w: --outage %q: want LENGTH@START, for example 10s@8s", ErrInvalidConfig, s)
	}
	l, err := time.ParseDuration(strings.TrimSpace(length))
	if err != nil || l <= 0 {
		return Outage{}, fmt.Errorf("%w: --outage %q: length %q must be a positive Go duration such as 10s", ErrInvalidConfig, s, length)
	}
	st, err := time.ParseDuration(strings.TrimSpace(start))
	if err != nil || st < 0 {
		return Outage{}, fmt.Errorf("%w: --outage %q: start %q must be a Go duration >= 0 such as 8s", ErrInvalidConfig, s, start)
	}
	return Outage{Start: st, Length: l}, nil
}

// EnsureDefaults replaces zero values by the drill's defaults, those of
// the bus included (then kafkabus's, see kafkabus.Config.EnsureDefaults).
// Run calls it.
func (c *Config) EnsureDefaults() {
	setZero(&c.EmbeddedBrokers, 3)
	setZero(&c.Topic, "drill")
	setZero(&c.Partitions, 6)
	setZero(&c.Duration, 30*time.Second)
	setZero(&c.Rate, 2000)
	setZero(&c.Size, 1024)
	setZero(&c.Keys, 100)
	setZero(&c.Workers, 32)
	c.Fault, c.Outages = c.faults()
	setZero(&c.DrainTimeout, time.Minute)
	setZero(&c.VerifyTimeout, time.Minute)
	setZero(&c.ProgressInterval, time.Second)
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}

	b := &c.Config
	setZero(&b.ClientID, "huleedu-drill")
	setZero(&b.Breaker.Name, "drill.kafka_producer")
	setZero(&b.PublishTimeout, time.Second)
	setZero(&b.Breaker.FailureThreshold, 5)
	setZero(&b.Breaker.RecoveryTimeout, 2*time.Second)
	setZero(&b.Breaker.SuccessThreshold, 2)
	setZero(&b.Fallback.Mode, kafkabus.FallbackDisk)
	setZero(&b.Fallback.QueueSize, 100_000)
	// Short back-off and poll: the drill measures how fast the bus
	// recovers, so it should not sleep long past a healed fault.
	setZero(&b.Drain.RetryMin, 50*time.Millisecond)
	setZero(&b.Drain.RetryMax, time.Second)
	setZero(&b.Drain.OpenPoll, 250*time.Millisecond)
	b.EnsureDefaults()
}

// faults returns Fault and Outages, or their defaults when they are empty:
// they depend on Brokers and Duration.
func (c *Config) faults() (string, []Outage) {
	fault, outages := c.Fault, c.Outages
	if fault == "" {
		fault = string(embeddedkafka.FaultCut)
		if len(c.Brokers) > 0 {
			fault = string(embeddedkafka.FaultNone)
		}
	}
	if outages == nil && fault != string(embeddedkafka.FaultNone) {
		d := cmp.Or(c.Duration, 30*time.Second)
		outages = []Outage{{Start: d * 8 / 30, Length: d / 3}}
	}
	return fault, outages
}

// Validate checks every field as the drill will run it, after
// EnsureDefaults: a zero that EnsureDefaults would replace is out of range
// (so a command line that starts from DefaultConfig refuses --rate 0 as it
// refuses --rate -1), except where the zero has a meaning of its own: an
// empty Fault, nil Outages, empty Brokers and Fallback.Dir, and CrashAt 0.
// The bus's fields are checked by kafkabus.Config.Validate, its ranges
// named by the drill's flags. Validate returns all problems at once, each
// naming the flag, the value and what is accepted, wrapped with
// ErrInvalidConfig; it changes nothing.
func (c Config) Validate() error {
	var errs []error
	bad := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("%w: "+format, append([]any{ErrInvalidConfig}, args...)...))
	}
	intRange := func(flag string, v, lo, hi int) {
		if v < lo || v > hi {
			bad("%s %d: must be between %d and %d", flag, v, lo, hi)
		}
	}
	durRange := func(flag string, v, lo, hi time.Duration) {
		if v < lo || v > hi {
			bad("%s %v: must be between %s and %s", flag, v, kafkabus.ShortDuration(lo), kafkabus.ShortDuration(hi))
		}
	}
	intRange("--embedded-brokers", c.EmbeddedBrokers, 1, 9)
	if c.Topic == "" || strings.ContainsAny(c.Topic, " /\\") {
		bad("--topic %q: want a Kafka topic name", c.Topic)
	}
	intRange("--partitions", c.Partitions, 1, 1000)
	durRange("--duration", c.Duration, 100*time.Millisecond, 24*time.Hour)
	intRange("--rate", c.Rate, 1, 1_000_000)
	intRange("--size", c.Size, 1, 900_000)
	intRange("--keys", c.Keys, 1, 1_000_000)
	intRange("--workers", c.Workers, 1, 4096)

	fault, outages := c.faults()
	kind, err := embeddedkafka.ParseFaultKind(fault)
	if err != nil {
		bad("--fault %q: want one of %s", fault, strings.Join(FaultKinds(), ", "))
	}
	if err == nil && len(c.Brokers) > 0 && kind != embeddedkafka.FaultNone {
		bad("--fault %s needs the embedded cluster: with --brokers only --fault none is possible (the drill cannot break a cluster it does not run)", fault)
	}
	if err == nil && kind == embeddedkafka.FaultNone && len(outages) > 0 {
		bad("--outage given with --fault none: there is nothing to inject")
	}
	outages = slices.Clone(outages)
	slices.SortFunc(outages, func(a, b Outage) int { return int(a.Start - b.Start) })
	for i, o := range outages {
		if o.Length <= 0 || o.Start < 0 {
			bad("--outage %v: length must be > 0 and start >= 0", o)
		}
		if o.End() > c.Duration {
			bad("--outage %v: ends at %v, after --duration %v", o, o.End(), c.Duration)
		}
		if i > 0 && o.Start < outages[i-1].End() {
			bad("--outage %v overlaps --outage %v", o, outages[i-1])
		}
	}

	if c.Breaker.Disabled {
		bad("the breaker is disabled: the drill tests the ResilientBus, which needs it")
	}
	if c.Fallback.Mode == kafkabus.FallbackMemory && c.Fallback.Dir != "" {
		bad("--spool-dir needs --fallback disk")
	}
	if c.CrashAt != 0 {
		switch {
		case c.Fallback.Mode != kafkabus.FallbackDisk:
			bad("--crash-at needs --fallback disk: a memory queue does not survive the crash it would test")
		case c.CrashAt < 0 || c.CrashAt >= c.Duration:
			bad("--crash-at %v: must be after the start and before --duration %v", c.CrashAt, c.Duration)
		case c.ChildCommand == nil:
			bad("--crash-at needs a child publisher command (Config.ChildCommand)")
		}
	}
	errs = append(errs, c.busProblems()...)

	durRange("--drain-timeout", c.DrainTimeout, time.Millisecond, 24*time.Hour)
	durRange("--verify-timeout", c.VerifyTimeout, time.Millisecond, 24*time.Hour)
	durRange("--progress-interval", c.ProgressInterval, 10*time.Millisecond, time.Hour)
	return errors.Join(errs...)
}

// busFlags names the flag of each kafkabus.Config field the drill's
// command line sets; the fields it does not set keep kafkabus's names.
var busFlags = map[string]string{
	"Brokers":                  "--brokers",
	"PublishTimeout":           "--publish-timeout",
	"MetadataMinAge":           "--metadata-min-age",
	"MaxRecordBytes":           "--max-record-bytes",
	"Linger":                   "--linger",
	"StartupCheck":             "--startup-check",
	"Breaker.FailureThreshold": "--failure-threshold",
	"Breaker.RecoveryTimeout":  "--recovery-timeout",
	"Breaker.SuccessThreshold": "--success-threshold",
	"Fallback.Mode":            "--fallback",
	"Fallback.QueueSize":       "--queue-size",
	"Fallback.Dir":             "--spool-dir",
	"Fallback.MaxBytes":        "--spool-max-bytes",
	"Fallback.Overflow":        "--overflow",
	"Drain.Batch":              "--drain-batch",
	"Drain.InFlight":           "--drain-in-flight",
	"Drain.RetryMin":           "--retry-min",
	"Drain.RetryMax":           "--retry-max",
	"Drain.OpenPoll":           "--open-poll",
}

// busProblems are kafkabus's problems with the bus configuration, worded
// with the drill's flags. Empty Brokers (the embedded cluster) and an
// empty disk spool directory (a temp folder) are the drill's to fill.
func (c Config) busProblems() []error {
	bus := c.Config
	if len(bus.Brokers) == 0 {
		bus.Brokers = []string{"embedded:0"}
	}
	if bus.Fallback.Dir == "" {
		bus.Fallback.Dir = "temp"
	}
	err := bus.Validate()
	if err == nil {
		return nil
	}
	var problems []error
	for _, one := range err.(interface{ Unwrap() []error }).Unwrap() {
		ce, ok := errors.AsType[*kafkabus.ConfigError](one)
		if !ok {
			problems = append(problems, fmt.Errorf("%w: %w", ErrInvalidConfig, one))
			continue
		}
		want := ce.Want
		for field, flag := range busFlags {
			want = strings.ReplaceAll(want, field+" ", flag+" ")
		}
		name, ok := busFlags[ce.Field]
		if !ok {
			name = "Config." + ce.Field
		}
		problems = append(problems, fmt.Errorf("%w: %s %s: %s", ErrInvalidConfig, name, ce.Value, want))
	}
	return problems
}

// setZero sets *p to def if it is the zero value.
func setZero[T comparable](p *T, def T) {
	var zero T
	if *p == zero {
		*p = def
	}
}

// FaultKinds lists the accepted values of Config.Fault.
func FaultKinds() []string {
	var names []string
	for _, k := range embeddedkafka.FaultKinds() {
		names = append(names, string(k))
	}
	return names
}
