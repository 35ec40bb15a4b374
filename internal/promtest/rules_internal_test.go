package promtest

import (
	"errors"
	"math"
	"strings"
	"testing"
	"time"
)

const sampleRules = `# comment kept
groups:
  - name: g
    interval: 1m
    rules:
      - alert: Growing
        expr: deriv(depth[5m]) > 0 and depth offset 10m > 0
        for: 5m
        keep_firing_for: 2m
      - alert: Stale
        expr: age_seconds > 300
      - record: job:calls:rate5m
        expr: |
          sum by (job) (rate(calls_total[5m]))
          and max_over_time(state[30m:1m]) == 0
`

func TestRewriteRulesScalesDurations(t *testing.T) {
	out, err := RewriteRules([]byte(sampleRules), RuleRewrite{TimeScale: 60, MinRange: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	got := string(out)
	for _, want := range []string{
		"# comment kept",
		"interval: 1s",
		"expr: deriv(depth[5s]) > 0 and depth offset 10s > 0",
		"for: 5s",
		"keep_firing_for: 2s",
		"expr: age_seconds > 300",
		"sum by (job) (rate(calls_total[5s]))",
		"max_over_time(state[30s:1s]) == 0",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("rewritten rules lack %q:\n%s", want, got)
		}
	}
}

func TestRewriteRulesKeepsRangesAtLeastMinRange(t *testing.T) {
	out, err := RewriteRules([]byte(sampleRules), RuleRewrite{TimeScale: 1000, MinRange: 800 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	got := string(out)
	// 5m/1000 = 300ms: ranges are raised to MinRange, for: is not;
	// 30m/1000 = 1.8s is above it.
	for _, want := range []string{"deriv(depth[800ms])", "rate(calls_total[800ms])", "state[1s800ms:60ms]", "for: 300ms"} {
		if !strings.Contains(got, want) {
			t.Errorf("rewritten rules lack %q:\n%s", want, got)
		}
	}
}

func TestRewriteRulesReplacesOverriddenExprUnscaled(t *testing.T) {
	out, err := RewriteRules([]byte(sampleRules), RuleRewrite{
		TimeScale: 60,
		Overrides: map[string]string{"Stale": "age_seconds > 5", "Growing": "rate(depth[2s]) > 0"},
	})
	if err != nil {
		t.Fatal(err)
	}
	got := string(out)
	for _, want := range []string{"expr: age_seconds > 5", "expr: rate(depth[2s]) > 0", "for: 5s"} {
		if !strings.Contains(got, want) {
			t.Errorf("rewritten rules lack %q:\n%s", want, got)
		}
	}
}

func TestRewriteRulesWithoutScaleLeavesDurations(t *testing.T) {
	for _, scale := range []float64{0, 1} {
		out, err := RewriteRules([]byte(sampleRules), RuleRewrite{TimeScale: scale})
		if err != nil {
			t.Fatal(err)
		}
		if got := string(out); !strings.Contains(got, "deriv(depth[5m])") || !strings.Contains(got, "for: 5m") {
			t.Errorf("TimeScale %v changed durations:\n%s", scale, got)
		}
	}
}

func TestRewriteRulesRejectsBadInput(t *testing.T) {
	for _, tc := range []struct {
		name, src string
		rw        RuleRewrite
		want      string
	}{
		{"negative scale", sampleRules, RuleRewrite{TimeScale: -2}, "TimeScale -2 must be a finite number >= 0"},
		{"NaN scale", sampleRules, RuleRewrite{TimeScale: math.NaN()}, "TimeScale NaN"},
		{"unknown override", sampleRules, RuleRewrite{Overrides: map[string]string{"Nope": "1"}}, "overrides for rules it does not have: Nope"},
		{"not YAML", "groups: [", RuleRewrite{}, "yaml"},
		{"no groups", "rules: []\n", RuleRewrite{}, "groups must be a list"},
		{"rules not a list", "groups:\n  - name: g\n    rules: x\n", RuleRewrite{}, "group 0: rules must be a list"},
		{"rule without expr", "groups:\n  - name: g\n    rules:\n      - alert: A\n", RuleRewrite{}, "want alert or record, and expr"},
		{"bad for", "groups:\n  - name: g\n    rules:\n      - alert: A\n        expr: x\n        for: soon\n", RuleRewrite{TimeScale: 2}, "A for"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := RewriteRules([]byte(tc.src), tc.rw)
			if !errors.Is(err, ErrRules) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want ErrRules mentioning %q", err, tc.want)
			}
		})
	}
}

func TestConfigRejectsInvalidValues(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  Config
		want string
	}{
		{"negative scrape interval", Config{ScrapeInterval: -time.Second}, "must not be negative"},
		{"sub-millisecond interval", Config{ScrapeInterval: time.Microsecond}, "at least 1ms"},
		{"negative time scale", Config{TimeScale: -1}, "TimeScale -1"},
		{"infinite time scale", Config{TimeScale: math.Inf(1)}, "TimeScale +Inf"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := tc.cfg.withDefaults()
			if !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want ErrConfig mentioning %q", err, tc.want)
			}
		})
	}
}

func TestConfigDefaults(t *testing.T) {
	c, err := Config{}.withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	if c.ScrapeInterval != time.Second || c.EvaluationInterval != time.Second || c.StartTimeout != 30*time.Second {
		t.Errorf("defaults %v %v %v, want 1s 1s 30s", c.ScrapeInterval, c.EvaluationInterval, c.StartTimeout)
	}
}

func TestParseTargetAcceptsHostPortAndURLs(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want scrapeTarget
		err  bool
	}{
		{in: "127.0.0.1:8081", want: scrapeTarget{"http", "127.0.0.1:8081", "/metrics"}},
		{in: "http://127.0.0.1:8081", want: scrapeTarget{"http", "127.0.0.1:8081", "/metrics"}},
		{in: "https://[::1]:9/admin/metrics", want: scrapeTarget{"https", "[::1]:9", "/admin/metrics"}},
		{in: "", err: true},
		{in: "localhost", err: true},
		{in: "127.0.0.1:1/metrics", err: true},
		{in: "ftp://127.0.0.1:21", err: true},
	} {
		got, err := parseTarget(tc.in)
		if tc.err {
			if !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), "want host:port or an http URL") {
				t.Errorf("parseTarget(%q) error %v, want ErrConfig naming the accepted forms", tc.in, err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("parseTarget(%q) = %+v, %v; want %+v", tc.in, got, err, tc.want)
		}
	}
}

func TestMissingBinarySkipsLocallyAndFailsInCI(t *testing.T) {
	lookupErr := errors.New(`exec: "prometheus": executable file not found in $PATH`)
	for _, tc := range []struct {
		ci   string
		fail bool
	}{
		{"", false}, {"false", false}, {"0", false},
		{"true", true}, {"1", true}, {"TRUE", true}, {"yes", true},
	} {
		fail, msg := missingBinary(tc.ci, lookupErr)
		if fail != tc.fail {
			t.Errorf("CI=%q: fail=%v, want %v", tc.ci, fail, tc.fail)
		}
		if !strings.Contains(msg, "scripts/promtool.sh") || !strings.Contains(msg, lookupErr.Error()) {
			t.Errorf("CI=%q: message %q should give the cause and how to install", tc.ci, msg)
		}
	}
}

func TestFindBinaryPrefersExplicitPath(t *testing.T) {
	t.Setenv(BinaryEnv, "")
	if _, err := findBinary("/nonexistent/prometheus"); err == nil || !strings.Contains(err.Error(), "/nonexistent/prometheus") {
		t.Errorf("findBinary of a missing explicit path: error %v, want one naming the path", err)
	}
	t.Setenv(BinaryEnv, "/nonexistent/from-env")
	if _, err := findBinary(""); err == nil || !strings.Contains(err.Error(), "/nonexistent/from-env") {
		t.Errorf("findBinary with %s set: error %v, want one naming its value", BinaryEnv, err)
	}
}
