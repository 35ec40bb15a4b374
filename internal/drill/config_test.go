package drill

import (
	"errors"
	"strings"
	"testing"
	"time"
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
		c.Size != 1024 || c.Keys != 100 || c.Fault != "cut" || c.Fallback != FallbackDisk {
		t.Fatalf("defaults = %+v", c)
	}
	if len(c.Outages) != 1 || c.Outages[0] != (Outage{Start: 8 * time.Second, Length: 10 * time.Second}) {
		t.Fatalf("default outages = %v, want [10s@8s]", c.Outages)
	}
}

func TestDefaultOutageScalesWithDuration(t *testing.T) {
	c := Config{Duration: 3 * time.Second}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	if want := (Outage{Start: 800 * time.Millisecond, Length: time.Second}); len(c.Outages) != 1 || c.Outages[0] != want {
		t.Fatalf("outages = %v, want [%v]", c.Outages, want)
	}
}

func TestBrokersDefaultToNoFault(t *testing.T) {
	c := Config{Brokers: []string{"127.0.0.1:9092"}}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	if c.Fault != "none" || len(c.Outages) != 0 {
		t.Fatalf("fault %q, outages %v; want none and no outages", c.Fault, c.Outages)
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
		{"crash with memory", func(c *Config) { c.Fallback = FallbackMemory; c.CrashAt = time.Second }, "--crash-at needs --fallback disk"},
		{"crash after the end", func(c *Config) { c.CrashAt = time.Minute }, "--crash-at 1m0s: must be after the start and before --duration"},
		{"unknown fallback", func(c *Config) { c.Fallback = "tape" }, `--fallback "tape": want disk or memory`},
		{"rate out of range", func(c *Config) { c.Rate = -1 }, "--rate -1: must be between 1 and 1000000"},
		{"broker without port", func(c *Config) { c.Brokers = []string{"kafka"}; c.Fault = "none" }, `--brokers "kafka": want host:port`},
		{"spool dir with memory", func(c *Config) { c.Fallback = FallbackMemory; c.SpoolDir = "/tmp/x" }, "--spool-dir needs --fallback disk"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var c Config
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
