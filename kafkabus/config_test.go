package kafkabus

import (
	"encoding/json"
	"errors"
	"log/slog"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/huleedu/huleedu/resilience"
	"github.com/huleedu/huleedu/spool"
)

func TestConfigZeroValuesMeanTheDocumentedDefaults(t *testing.T) {
	c := Config{Options: Options{Brokers: []string{"a:9092"}}}
	c.EnsureDefaults()
	if err := c.Validate(); err != nil {
		t.Fatalf("the defaults do not validate: %v", err)
	}
	want := Config{
		Options: Options{
			Brokers: []string{"a:9092"}, ClientID: "huleedu", PublishTimeout: 10 * time.Second,
			MaxRecordBytes: 1_000_012, MetadataMinAge: time.Second,
		},
		Breaker:  BreakerConfig{Name: "huleedu.kafka_producer", FailureThreshold: 10, RecoveryTimeout: 30 * time.Second, SuccessThreshold: 3},
		Fallback: FallbackConfig{Mode: FallbackMemory, QueueSize: 1000, MaxBytes: 1 << 30, Overflow: spool.OverflowBlock},
		Drain:    DrainConfig{Batch: 500, InFlight: 8, RetryMin: 100 * time.Millisecond, RetryMax: 5 * time.Second, OpenPoll: time.Second},
	}
	if !reflect.DeepEqual(c, want) {
		t.Fatalf("defaults\n  %+v\nwant\n  %+v", c, want)
	}
}

// Defaults that depend on another field follow what was given.
func TestConfigDerivedDefaultsFollowTheirFields(t *testing.T) {
	c := Config{Options: Options{Brokers: []string{"a:9092"}, ClientID: "file_service", PublishTimeout: 200 * time.Millisecond}}
	c.EnsureDefaults()
	if c.Breaker.Name != "file_service.kafka_producer" || c.MetadataMinAge != 50*time.Millisecond {
		t.Fatalf("breaker %q, metadata min age %v; want file_service.kafka_producer and 50ms", c.Breaker.Name, c.MetadataMinAge)
	}
}

// Validate sees the config as it will run: a zero that EnsureDefaults
// would have replaced is out of range, which is how servicekit and the
// drill refuse an explicit 0.
func TestConfigValidateNamesTheFieldAndTheRange(t *testing.T) {
	valid := func() Config {
		c := Config{Options: Options{Brokers: []string{"a:9092"}}}
		c.EnsureDefaults()
		return c
	}
	for _, tc := range []struct {
		field string
		edit  func(*Config)
		want  string
	}{
		{"Brokers", func(c *Config) { c.Brokers = nil }, "Config.Brokers = []: must list at least one host:port"},
		{"Brokers", func(c *Config) { c.Brokers = []string{"kafka"} }, `Config.Brokers = ["kafka"]: must be a list of host:port`},
		{"PublishTimeout", func(c *Config) { c.PublishTimeout = 0 }, "Config.PublishTimeout = 0s: must be between 1ms and 1h (the zero value means 10s)"},
		{"MaxRecordBytes", func(c *Config) { c.MaxRecordBytes = 0 }, "must be between 512 and 1073741824"},
		{"Linger", func(c *Config) { c.Linger = -time.Second }, "Config.Linger = -1s: must be between 0s and 1m"},
		{"MetadataMinAge", func(c *Config) { c.MetadataMinAge = 0 }, "must be between 10ms and 10m"},
		{"Breaker.FailureThreshold", func(c *Config) { c.Breaker.FailureThreshold = 0 },
			"Config.Breaker.FailureThreshold = 0: must be between 1 and 1000000 (the zero value means 10)"},
		{"Breaker.FailureThreshold", func(c *Config) { c.Breaker.FailureThreshold = -1 }, "= -1: must be between 1 and 1000000"},
		{"Breaker.RecoveryTimeout", func(c *Config) { c.Breaker.RecoveryTimeout = time.Millisecond }, "must be between 10ms and 24h (the zero value means 30s)"},
		{"Breaker.SuccessThreshold", func(c *Config) { c.Breaker.SuccessThreshold = 2_000_000 }, "must be between 1 and 1000000"},
		{"Breaker.Name", func(c *Config) { c.Breaker.Name = "" }, "Config.Breaker.Name = \"\": must not be empty"},
		{"Fallback.Mode", func(c *Config) { c.Fallback.Mode = "tape" }, "Config.Fallback.Mode = tape: must be disk or memory"},
		{"Fallback.QueueSize", func(c *Config) { c.Fallback.QueueSize = 0 }, "must be between 1 and 100000000 (the zero value means 1000)"},
		{"Fallback.Dir", func(c *Config) { c.Fallback.Mode = FallbackDisk }, "Config.Fallback.Dir = \"\": must be set in disk mode"},
		{"Fallback.MaxBytes", func(c *Config) { c.Fallback.Mode, c.Fallback.Dir, c.Fallback.MaxBytes = FallbackDisk, "/x", 10 },
			"Config.Fallback.MaxBytes = 10: must be at least 1048576 (1 MiB)"},
		{"Fallback.Overflow", func(c *Config) { c.Fallback.Overflow = 7 }, "must be block or reject"},
		{"Drain.Batch", func(c *Config) { c.Drain.Batch = 0 }, "Config.Drain.Batch = 0: must be between 1 and 100000 (the zero value means 500)"},
		{"Drain.InFlight", func(c *Config) { c.Drain.InFlight = 2000 }, "must be between 1 and 1024"},
		{"Drain.RetryMin", func(c *Config) { c.Drain.RetryMin = 0 }, "must be between 1ms and 1h (the zero value means 100ms)"},
		{"Drain.RetryMax", func(c *Config) { c.Drain.RetryMax = 50 * time.Millisecond }, "Config.Drain.RetryMax = 50ms: must not be below Drain.RetryMin (100ms)"},
		{"Drain.OpenPoll", func(c *Config) { c.Drain.OpenPoll = 2 * time.Hour }, "must be between 1ms and 1h"},
		{"StartupCheck", func(c *Config) { c.StartupCheck = -time.Second }, "Config.StartupCheck = -1s: must be between 1ms and 1h"},
	} {
		t.Run(tc.want, func(t *testing.T) {
			c := valid()
			tc.edit(&c)
			err := c.Validate()
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Validate() = %v, want it to say %q", err, tc.want)
			}
			ce, ok := errors.AsType[*ConfigError](err)
			if !ok || ce.Field != tc.field || !errors.Is(err, ErrInvalidConfig) {
				t.Fatalf("Validate() = %v, want a *ConfigError for %s matching ErrInvalidConfig", err, tc.field)
			}
		})
	}
}

func TestConfigValidateReportsEveryProblemAtOnce(t *testing.T) {
	c := Config{}
	c.EnsureDefaults()
	c.Breaker.FailureThreshold, c.Drain.Batch = -1, -1
	err := c.Validate()
	var fields []string
	for _, e := range err.(interface{ Unwrap() []error }).Unwrap() {
		fields = append(fields, e.(*ConfigError).Field)
	}
	if got := strings.Join(fields, " "); got != "Brokers Breaker.FailureThreshold Drain.Batch" {
		t.Fatalf("problems in %q, want Brokers, Breaker.FailureThreshold and Drain.Batch", got)
	}
}

// The drill hands its configuration to a child process as JSON: every
// setting survives the trip, the live objects stay behind.
func TestConfigRoundTripsThroughJSON(t *testing.T) {
	c := Config{
		Options: Options{
			Brokers: []string{"a:1", "b:2"}, ClientID: "c", PublishTimeout: time.Second, AllowAutoTopicCreation: true,
			MaxRecordBytes: 4096, Linger: time.Millisecond, MetadataMinAge: 70 * time.Millisecond,
			KgoOpts: []kgo.Opt{kgo.ClientID("x")}, Logger: slog.Default(),
		},
		Breaker:      BreakerConfig{Disabled: true, Name: "n", FailureThreshold: 4, RecoveryTimeout: 2 * time.Second, SuccessThreshold: 5},
		Fallback:     FallbackConfig{Mode: FallbackDisk, QueueSize: 9, Dir: "/d", MaxBytes: 1 << 21, Overflow: spool.OverflowReject},
		Drain:        DrainConfig{Batch: 7, InFlight: 3, RetryMin: 5 * time.Millisecond, RetryMax: time.Second, OpenPoll: 9 * time.Millisecond},
		StartupCheck: 3 * time.Second,
		Registry:     resilience.NewRegistry(resilience.Settings{}),
	}
	b, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	var back Config
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	want := c
	want.KgoOpts, want.Logger, want.Registry = nil, nil, nil
	if !reflect.DeepEqual(back, want) {
		t.Fatalf("after JSON\n  %+v\nwant\n  %+v\n(JSON %s)", back, want, b)
	}
	if strings.Contains(string(b), "Registry") || strings.Contains(string(b), "Logger") {
		t.Fatalf("live objects in the JSON: %s", b)
	}
}

// ResilientOptions take Config's ranges, and say so under their own names.
func TestResilientOptionsAreCheckedWithConfigsRanges(t *testing.T) {
	cb, err := resilience.NewCircuitBreaker(resilience.Settings{Name: "t"})
	if err != nil {
		t.Fatal(err)
	}
	q, err := spool.NewMemory(spool.MemoryOptions{MaxRecords: 1})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		opts ResilientOptions
		want string
	}{
		{ResilientOptions{DrainBatch: -1}, "kafkabus: ResilientOptions.DrainBatch = -1: must be between 1 and 100000 (the zero value means 500)"},
		{ResilientOptions{DrainInFlight: 5000}, "ResilientOptions.DrainInFlight = 5000: must be between 1 and 1024"},
		{ResilientOptions{RetryMin: time.Second, RetryMax: time.Millisecond}, "ResilientOptions.RetryMax = 1ms: must not be below RetryMin (1s)"},
		{ResilientOptions{OpenPoll: -1}, "ResilientOptions.OpenPoll = -1ns"},
	} {
		tc.opts.Breaker, tc.opts.Queue = cb, q
		if _, err := NewResilientBus(&fakeProducer{}, tc.opts); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("NewResilientBus = %v, want %q", err, tc.want)
		}
	}
}

func TestShortDurationDropsZeroUnits(t *testing.T) {
	for d, want := range map[time.Duration]string{
		24 * time.Hour: "24h", 10 * time.Minute: "10m", 90 * time.Minute: "1h30m", 90 * time.Second: "1m30s",
		500 * time.Millisecond: "500ms", 0: "0s", time.Hour + time.Second: "1h0m1s",
	} {
		if got := ShortDuration(d); got != want {
			t.Errorf("ShortDuration(%v) = %q, want %q", d, got, want)
		}
	}
}
