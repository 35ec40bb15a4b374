package drill

import (
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
	"github.com/huleedu/huleedu/spool"
)

// ErrInvalidConfig is wrapped by every error Validate returns, so a command
// line can tell a usage error (exit status 2) from a drill that ran and
// failed.
var ErrInvalidConfig = errors.New("drill: invalid configuration")

// Fallback queue kinds accepted in Config.Fallback.
const (
	FallbackDisk   = "disk"
	FallbackMemory = "memory"
)

// Config describes one drill. The zero value of every field means its
// default (DefaultConfig lists them); the field names match the command
// line's flags, and Validate's messages name the flags.
type Config struct {
	// Brokers selects an existing cluster. Empty: start an embedded
	// EmbeddedBrokers-broker kfake cluster with its data dir in a temp folder.
	Brokers []string
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
	// embeddedkafka fault kinds. Default "cut" on the embedded cluster and
	// "none" with Brokers (every fault but none needs the embedded cluster).
	Fault string
	// Outages are the fault windows. Default: one outage a third of
	// Duration long starting at 8/30 of it (10s@8s for 30s). Must be empty
	// when Fault is none.
	Outages []Outage

	// Fallback is "disk" (default) or "memory". SpoolDir is the disk
	// spool's directory (default a temp folder, removed afterwards);
	// SpoolMaxBytes its limit (default 1 GiB). QueueSize is the memory
	// queue's limit in records (default 100000). Overflow applies to both.
	Fallback      string
	SpoolDir      string
	SpoolMaxBytes int64
	QueueSize     int
	Overflow      spool.Overflow

	// CrashAt, when set, SIGKILLs the publishing process at that time and
	// restarts it on the same spool (disk only). The publisher then runs
	// as a child process built by ChildCommand.
	CrashAt time.Duration
	// ChildCommand builds the command that runs ServeChild in a new
	// process (for example the same binary with a hidden subcommand).
	// Required with CrashAt.
	ChildCommand func(ctx context.Context) *exec.Cmd

	// Breaker and producer settings, tuned so the default drill opens the
	// circuit within about a second of a fault (defaults: PublishTimeout
	// 1s, FailureThreshold 5, RecoveryTimeout 2s, SuccessThreshold 2).
	PublishTimeout   time.Duration
	FailureThreshold int
	RecoveryTimeout  time.Duration
	SuccessThreshold int

	// DrainTimeout bounds the bus's Close after the workload (default
	// 60s); VerifyTimeout bounds reading the topic back (default 60s).
	DrainTimeout  time.Duration
	VerifyTimeout time.Duration

	// Progress, when set, receives a snapshot every ProgressInterval
	// (default 1s) and once at each phase change. Calls never overlap; it
	// must return quickly, since the sampler waits for it.
	Progress         func(Progress)
	ProgressInterval time.Duration

	// Logger receives the drill's and the bus's log lines (nil: discard).
	Logger *slog.Logger

	// wrapProducer lets tests plant misbehaviour (a dropped or swapped
	// record) between the bus and Kafka, to prove the verifier sees it.
	wrapProducer func(kafkabus.Producer) kafkabus.Producer
}

// DefaultConfig returns the configuration of a drill run with no flags.
func DefaultConfig() Config {
	var c Config
	c.fill()
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

// fill replaces zero values by defaults.
func (c *Config) fill() {
	setInt := func(p *int, v int) {
		if *p == 0 {
			*p = v
		}
	}
	setDur := func(p *time.Duration, v time.Duration) {
		if *p == 0 {
			*p = v
		}
	}
	setInt(&c.EmbeddedBrokers, 3)
	if c.Topic == "" {
		c.Topic = "drill"
	}
	setInt(&c.Partitions, 6)
	setDur(&c.Duration, 30*time.Second)
	setInt(&c.Rate, 2000)
	setInt(&c.Size, 1024)
	setInt(&c.Keys, 100)
	setInt(&c.Workers, 32)
	if c.Fault == "" {
		c.Fault = string(embeddedkafka.FaultCut)
		if len(c.Brokers) > 0 {
			c.Fault = string(embeddedkafka.FaultNone)
		}
	}
	if c.Outages == nil && c.Fault != string(embeddedkafka.FaultNone) {
		c.Outages = []Outage{{Start: c.Duration * 8 / 30, Length: c.Duration / 3}}
	}
	if c.Fallback == "" {
		c.Fallback = FallbackDisk
	}
	if c.SpoolMaxBytes == 0 {
		c.SpoolMaxBytes = 1 << 30
	}
	setInt(&c.QueueSize, 100_000)
	setDur(&c.PublishTimeout, time.Second)
	setInt(&c.FailureThreshold, 5)
	setDur(&c.RecoveryTimeout, 2*time.Second)
	setInt(&c.SuccessThreshold, 2)
	setDur(&c.DrainTimeout, time.Minute)
	setDur(&c.VerifyTimeout, time.Minute)
	setDur(&c.ProgressInterval, time.Second)
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
}

// Validate fills defaults and checks every field. It returns all problems
// at once, each naming the flag, the value and what is accepted, wrapped
// with ErrInvalidConfig.
func (c *Config) Validate() error {
	c.fill()
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
			bad("%s %v: must be between %v and %v", flag, v, lo, hi)
		}
	}
	for _, b := range c.Brokers {
		if _, _, ok := strings.Cut(b, ":"); !ok || strings.TrimSpace(b) != b {
			bad("--brokers %q: want host:port", b)
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

	kind, err := embeddedkafka.ParseFaultKind(c.Fault)
	if err != nil {
		bad("--fault %q: want one of %s", c.Fault, strings.Join(FaultKinds(), ", "))
	} else {
		c.Fault = string(kind)
	}
	if err == nil && len(c.Brokers) > 0 && kind != embeddedkafka.FaultNone {
		bad("--fault %s needs the embedded cluster: with --brokers only --fault none is possible (the drill cannot break a cluster it does not run)", c.Fault)
	}
	if err == nil && kind == embeddedkafka.FaultNone && len(c.Outages) > 0 {
		bad("--outage given with --fault none: there is nothing to inject")
	}
	c.Outages = slices.Clone(c.Outages)
	slices.SortFunc(c.Outages, func(a, b Outage) int { return int(a.Start - b.Start) })
	for i, o := range c.Outages {
		if o.Length <= 0 || o.Start < 0 {
			bad("--outage %v: length must be > 0 and start >= 0", o)
		}
		if o.End() > c.Duration {
			bad("--outage %v: ends at %v, after --duration %v", o, o.End(), c.Duration)
		}
		if i > 0 && o.Start < c.Outages[i-1].End() {
			bad("--outage %v overlaps --outage %v", o, c.Outages[i-1])
		}
	}

	switch c.Fallback {
	case FallbackDisk:
		if c.SpoolMaxBytes < 1<<20 {
			bad("--spool-max-bytes %d: must be at least 1048576 (1 MiB)", c.SpoolMaxBytes)
		}
	case FallbackMemory:
		intRange("--queue-size", c.QueueSize, 1, 100_000_000)
		if c.SpoolDir != "" {
			bad("--spool-dir needs --fallback disk")
		}
	default:
		bad("--fallback %q: want disk or memory", c.Fallback)
	}
	if c.Overflow != spool.OverflowBlock && c.Overflow != spool.OverflowReject {
		bad("--overflow %v: want block or reject", c.Overflow)
	}
	if c.CrashAt != 0 {
		switch {
		case c.Fallback != FallbackDisk:
			bad("--crash-at needs --fallback disk: a memory queue does not survive the crash it would test")
		case c.CrashAt < 0 || c.CrashAt >= c.Duration:
			bad("--crash-at %v: must be after the start and before --duration %v", c.CrashAt, c.Duration)
		case c.ChildCommand == nil:
			bad("--crash-at needs a child publisher command (Config.ChildCommand)")
		}
	}

	durRange("--publish-timeout", c.PublishTimeout, 100*time.Millisecond, time.Hour)
	intRange("--failure-threshold", c.FailureThreshold, 1, 1_000_000)
	durRange("--recovery-timeout", c.RecoveryTimeout, 10*time.Millisecond, time.Hour)
	intRange("--success-threshold", c.SuccessThreshold, 1, 1_000_000)
	durRange("--drain-timeout", c.DrainTimeout, time.Millisecond, 24*time.Hour)
	durRange("--verify-timeout", c.VerifyTimeout, time.Millisecond, 24*time.Hour)
	durRange("--progress-interval", c.ProgressInterval, 10*time.Millisecond, time.Hour)
	return errors.Join(errs...)
}

// FaultKinds lists the accepted values of Config.Fault.
func FaultKinds() []string {
	var names []string
	for _, k := range embeddedkafka.FaultKinds() {
		names = append(names, string(k))
	}
	return names
}
