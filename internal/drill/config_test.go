package drill

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/huleedu/huleedu/kafkabus"
)

func TestParseOutage(t *testing.T) {
	tests := []struct {
		in      string
		want    Outage
		wantErr string
	}{
		{in: "10s@8s", want: Outage{Start: 8 * time.Second, Length: 10 * time.Second}},
		{in: "500ms@0s", want: Outage{Start: 0, Length: 500 * time.Millisecond}},
		{in: " 1s @ 2s ", want: Outage{Start: 2 * time.Second, Length: time.Second}},
		{in: "10s", wantErr: "want LENGTH@START"},
		{in: "ten@8s", wantErr: `length "ten"`},
		{in: "0s@8s", wantErr: "positive"},
		{in: "10s@-1s", wantErr: `start "-1s"`},
		{in: "10s@soon", wantErr: `start "soon"`},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseOutage(tt.in)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !errors.Is(err, ErrInvalidConfig) {
					t.Fatalf("ParseOutage(%q) error = %v, want one containing %q wrapping ErrInvalidConfig", tt.in, err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("ParseOutage(%q) = %+v, %v; want %+v", tt.in, got, err, tt.want)
			}
		})
	}
}

func TestDefaultConfigIsTheIssuesDefaultRun(t *testing.T) {
	c := DefaultConfig()
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	if c.Topic != "drill" || c.Partitions != 6 || c.Duration != 30*time.Second || c.Rate != 2000 ||
		c.Size != 1024 || c.Keys != 100 || c.Fault != "cut" || c.Fallback.Mode != kafkabus.FallbackDisk {
		t.Fatalf("defaults = %+v", c)
	}
	if len(c.Outages) != 1 || c.Outages[0] != (Outage{Start: 8 * time.Second, Length: 10 * time.Second}) {
		t.Fatalf("default outages = %v, want [10s@8s]", c.Outages)
	}
}

// The bus the drill runs is a kafkabus.Config with the drill's defaults
// where it measures recovery, and kafkabus's everywhere else.
func TestDefaultBusIsKafkabusDefaultsWithTheDrillsOwn(t *testing.T) {
	got := DefaultConfig().Config
	want := kafkabus.Config{
		Options:  kafkabus.Options{ClientID: "huleedu-drill", PublishTimeout: time.Second},
		Breaker:  kafkabus.BreakerConfig{Name: "drill.kafka_producer", FailureThreshold: 5, RecoveryTimeout: 2 * time.Second, SuccessThreshold: 2},
		Fallback: kafkabus.FallbackConfig{Mode: kafkabus.FallbackDisk, QueueSize: 100_000},
		Drain:    kafkabus.DrainConfig{RetryMin: 50 * time.Millisecond, RetryMax: time.Second, OpenPoll: 250 * time.Millisecond},
	}
	want.EnsureDefaults()
	got.Logger = nil // the drill discards the bus's lines unless told otherwise
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("drill's bus\n  %+v\nwant\n  %+v", got, want)
	}
}

func TestDefaultOutageScalesWithDuration(t *testing.T) {
	c := Config{Duration: 3 * time.Second}
	c.EnsureDefaults()
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	if want := (Outage{Start: 800 * time.Millisecond, Length: time.Second}); len(c.Outages) != 1 || c.Outages[0] != want {
		t.Fatalf("outages = %v, want [%v]", c.Outages, want)
	}
}

func TestBrokersDefaultToNoFault(t *testing.T) {
	var c Config
	c.Brokers = []string{"127.0.0.1:9092"}
	c.EnsureDefaults()
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	if c.Fault != "none" || len(c.Outages) != 0 {
		t.Fatalf("fault %q, outages %v; want none and no outages", c.Fault, c.Outages)
	}
}

// For a library caller a zero value means the default, as in kafkabus.
func TestZeroConfigRunsWithTheDefaults(t *testing.T) {
	var c Config
	c.EnsureDefaults()
	if err := c.Validate(); err != nil {
		t.Fatalf("Validate after EnsureDefaults: %v", err)
	}
}

func TestValidateNamesTheFlagAtFault(t *testing.T) {
	tests := []struct {
		name string
		edit func(*Config)
		want string
	}{
		{"unknown fault", func(c *Config) { c.Fault = "meteor" }, `--fault "meteor": want one of`},
		{"fault with brokers", func(c *Config) { c.Fault = "cut"; c.Brokers = []string{"127.0.0.1:9092"} }, "--fault cut needs the embedded cluster"},
		{"outage with no fault", func(c *Config) { c.Fault = "none"; c.Outages = []Outage{{Start: time.Second, Length: time.Second}} }, "--outage given with --fault none"},
		{"outage past the end", func(c *Config) { c.Outages = []Outage{{Start: 25 * time.Second, Length: 10 * time.Second}} }, "ends at 35s, after --duration 30s"},
		{"overlapping outages", func(c *Config) {
			c.Outages = []Outage{{Start: 5 * time.Second, Length: 5 * time.Second}, {Start: 2 * time.Second, Length: 5 * time.Second}}
		}, "overlaps"},
		{"crash with memory", func(c *Config) { c.Fallback.Mode = kafkabus.FallbackMemory; c.CrashAt = time.Second }, "--crash-at needs --fallback disk"},
		{"crash after the end", func(c *Config) { c.CrashAt = time.Minute }, "--crash-at 1m0s: must be after the start and before --duration"},
		{"unknown fallback", func(c *Config) { c.Fallback.Mode = "tape" }, `--fallback tape: must be disk or memory`},
		{"rate out of range", func(c *Config) { c.Rate = -1 }, "--rate -1: must be between 1 and 1000000"},
		{"broker without port", func(c *Config) { c.Brokers = []string{"kafka"}; c.Fault = "none"; c.Outages = nil }, `--brokers ["kafka"]: must be a list of host:port`},
		{"spool dir with memory", func(c *Config) { c.Fallback.Mode = kafkabus.FallbackMemory; c.Fallback.Dir = "/tmp/x" }, "--spool-dir needs --fallback disk"},
		{"retry max below min", func(c *Config) { c.Drain.RetryMax = 10 * time.Millisecond }, "--retry-max 10ms: must not be below --retry-min (50ms)"},
		{"breaker disabled", func(c *Config) { c.Breaker.Disabled = true }, "the breaker is disabled"},
		{"overflow", func(c *Config) { c.Fallback.Overflow = 9 }, "--overflow Overflow(9): must be block or reject"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := DefaultConfig()
			tt.edit(&c)
			err := c.Validate()
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Validate() = %v, want an error containing %q", err, tt.want)
			}
			if !errors.Is(err, ErrInvalidConfig) {
				t.Fatalf("Validate() = %v does not wrap ErrInvalidConfig", err)
			}
		})
	}
}

// A command line starts from DefaultConfig and sets what the user gave, so
// an explicit 0 reaches Validate, which refuses it with the range as it
// refuses -1 (issue 18): 0 never silently means the default there.
func TestValidateRefusesAnExplicitZeroOfEveryFlag(t *testing.T) {
	for _, tc := range []struct {
		flag string
		zero func(*Config)
		want string
	}{
		{"--rate", func(c *Config) { c.Rate = 0 }, "--rate 0: must be between 1 and 1000000"},
		{"--duration", func(c *Config) { c.Duration, c.Outages = 0, nil }, "--duration 0s: must be between 100ms and 24h"},
		{"--size", func(c *Config) { c.Size = 0 }, "--size 0: must be between 1 and 900000"},
		{"--keys", func(c *Config) { c.Keys = 0 }, "--keys 0: must be between 1 and 1000000"},
		{"--workers", func(c *Config) { c.Workers = 0 }, "--workers 0: must be between 1 and 4096"},
		{"--partitions", func(c *Config) { c.Partitions = 0 }, "--partitions 0: must be between 1 and 1000"},
		{"--embedded-brokers", func(c *Config) { c.EmbeddedBrokers = 0 }, "--embedded-brokers 0: must be between 1 and 9"},
		{"--publish-timeout", func(c *Config) { c.PublishTimeout = 0 }, "--publish-timeout 0s: must be between 1ms and 1h"},
		{"--failure-threshold", func(c *Config) { c.Breaker.FailureThreshold = 0 }, "--failure-threshold 0: must be between 1 and 1000000"},
		{"--recovery-timeout", func(c *Config) { c.Breaker.RecoveryTimeout = 0 }, "--recovery-timeout 0s: must be between 10ms and 24h"},
		{"--success-threshold", func(c *Config) { c.Breaker.SuccessThreshold = 0 }, "--success-threshold 0: must be between 1 and 1000000"},
		{"--queue-size", func(c *Config) { c.Fallback.Mode, c.Fallback.QueueSize = kafkabus.FallbackMemory, 0 }, "--queue-size 0: must be between 1 and 100000000"},
		{"--spool-max-bytes", func(c *Config) { c.Fallback.MaxBytes = 0 }, "--spool-max-bytes 0: must be at least 1048576"},
		{"--drain-batch", func(c *Config) { c.Drain.Batch = 0 }, "--drain-batch 0: must be between 1 and 100000"},
		{"--drain-in-flight", func(c *Config) { c.Drain.InFlight = 0 }, "--drain-in-flight 0: must be between 1 and 1024"},
		{"--retry-min", func(c *Config) { c.Drain.RetryMin = 0 }, "--retry-min 0s: must be between 1ms and 1h"},
		{"--retry-max", func(c *Config) { c.Drain.RetryMax = 0 }, "--retry-max 0s: must be between 1ms and 1h"},
		{"--open-poll", func(c *Config) { c.Drain.OpenPoll = 0 }, "--open-poll 0s: must be between 1ms and 1h"},
		{"--metadata-min-age", func(c *Config) { c.MetadataMinAge = 0 }, "--metadata-min-age 0s: must be between 10ms and 10m"},
		{"--max-record-bytes", func(c *Config) { c.MaxRecordBytes = 0 }, "--max-record-bytes 0: must be between 512 and 1073741824"},
		{"--drain-timeout", func(c *Config) { c.DrainTimeout = 0 }, "--drain-timeout 0s: must be between 1ms and 24h"},
		{"--verify-timeout", func(c *Config) { c.VerifyTimeout = 0 }, "--verify-timeout 0s: must be between 1ms and 24h"},
	} {
		t.Run(tc.flag, func(t *testing.T) {
			c := DefaultConfig()
			tc.zero(&c)
			err := c.Validate()
			if err == nil || !strings.Contains(err.Error(), tc.want) || !errors.Is(err, ErrInvalidConfig) {
				t.Fatalf("Validate() = %v, want ErrInvalidConfig saying %q", err, tc.want)
			}
		})
	}
}
