package promtest

import (
	"errors"
	"fmt"
	"math"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// ErrConfig is wrapped by every error about an invalid Config.
var ErrConfig = errors.New("promtest: config")

// Config describes the Prometheus server Start runs.
type Config struct {
	// ScrapeTargets are the endpoints to scrape: "host:port" (the path is
	// /metrics) or a URL such as "http://127.0.0.1:8081/admin/metrics".
	// Target i is scraped by job "promtest-<i+1>" with instance host:port.
	ScrapeTargets []string
	// RuleFiles are Prometheus rule files, for example
	// deploy/prometheus/alerts.yml, relative to the test's directory.
	RuleFiles []string
	// ScrapeInterval defaults to 1s. Each scrape's timeout is the interval.
	ScrapeInterval time.Duration
	// EvaluationInterval (how often rules run) defaults to ScrapeInterval.
	EvaluationInterval time.Duration
	// TimeScale, unless 0 or 1, divides every duration in the rule files
	// (for:, range windows) by it; see RuleRewrite. Range windows stay at
	// least four scrape intervals long.
	TimeScale float64
	// RuleOverrides replaces the expr of the named rules; see RuleRewrite.
	RuleOverrides map[string]string
	// Binary is the prometheus executable; default $PROMETHEUS_BINARY,
	// then "prometheus" on $PATH.
	Binary string
	// StartTimeout bounds the wait for /-/ready; default 30s.
	StartTimeout time.Duration
}

// withDefaults validates c and fills in its defaults.
func (c Config) withDefaults() (Config, error) {
	if c.ScrapeInterval < 0 || c.EvaluationInterval < 0 || c.StartTimeout < 0 {
		return c, fmt.Errorf("%w: ScrapeInterval %v, EvaluationInterval %v and StartTimeout %v must not be negative",
			ErrConfig, c.ScrapeInterval, c.EvaluationInterval, c.StartTimeout)
	}
	if c.TimeScale < 0 || math.IsNaN(c.TimeScale) || math.IsInf(c.TimeScale, 0) {
		return c, fmt.Errorf("%w: TimeScale %v must be a finite number >= 0", ErrConfig, c.TimeScale)
	}
	if c.ScrapeInterval == 0 {
		c.ScrapeInterval = time.Second
	}
	if c.ScrapeInterval < time.Millisecond || c.EvaluationInterval > 0 && c.EvaluationInterval < time.Millisecond {
		return c, fmt.Errorf("%w: ScrapeInterval %v and EvaluationInterval %v must be at least 1ms (Prometheus's resolution)",
			ErrConfig, c.ScrapeInterval, c.EvaluationInterval)
	}
	if c.EvaluationInterval == 0 {
		c.EvaluationInterval = c.ScrapeInterval
	}
	if c.StartTimeout == 0 {
		c.StartTimeout = 30 * time.Second
	}
	return c, nil
}

// minRange is the shortest range window a scaled rule may have.
func (c Config) minRange() time.Duration { return 4 * c.ScrapeInterval }

// scrapeTarget is one parsed entry of Config.ScrapeTargets.
type scrapeTarget struct {
	scheme, hostPort, path string
}

func parseTarget(s string) (scrapeTarget, error) {
	if !strings.Contains(s, "://") {
		if s == "" || strings.ContainsAny(s, "/ ") || !strings.Contains(s, ":") {
			return scrapeTarget{}, fmt.Errorf("%w: scrape target %q: want host:port or an http URL", ErrConfig, s)
		}
		return scrapeTarget{scheme: "http", hostPort: s, path: "/metrics"}, nil
	}
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return scrapeTarget{}, fmt.Errorf("%w: scrape target %q: want host:port or an http URL", ErrConfig, s)
	}
	path := u.Path
	if path == "" {
		path = "/metrics"
	}
	return scrapeTarget{scheme: u.Scheme, hostPort: u.Host, path: path}, nil
}

// The subset of Prometheus's configuration file that Start writes.
type (
	promConfig struct {
		Global        promGlobal     `yaml:"global"`
		RuleFiles     []string       `yaml:"rule_files,omitempty"`
		ScrapeConfigs []scrapeConfig `yaml:"scrape_configs,omitempty"`
	}
	promGlobal struct {
		ScrapeInterval     string `yaml:"scrape_interval"`
		ScrapeTimeout      string `yaml:"scrape_timeout"`
		EvaluationInterval string `yaml:"evaluation_interval"`
	}
	scrapeConfig struct {
		JobName       string         `yaml:"job_name"`
		Scheme        string         `yaml:"scheme"`
		MetricsPath   string         `yaml:"metrics_path"`
		StaticConfigs []staticConfig `yaml:"static_configs"`
	}
	staticConfig struct {
		Targets []string `yaml:"targets"`
	}
)

// writeFiles writes the rule files (rewritten when TimeScale or
// RuleOverrides ask for it) and prometheus.yml into dir, and returns the
// configuration file's path.
func (c Config) writeFiles(dir string) (string, error) {
	pc := promConfig{Global: promGlobal{
		ScrapeInterval:     formatDuration(c.ScrapeInterval),
		ScrapeTimeout:      formatDuration(c.ScrapeInterval),
		EvaluationInterval: formatDuration(c.EvaluationInterval),
	}}
	for i, raw := range c.ScrapeTargets {
		t, err := parseTarget(raw)
		if err != nil {
			return "", err
		}
		pc.ScrapeConfigs = append(pc.ScrapeConfigs, scrapeConfig{
			JobName:       fmt.Sprintf("promtest-%d", i+1),
			Scheme:        t.scheme,
			MetricsPath:   t.path,
			StaticConfigs: []staticConfig{{Targets: []string{t.hostPort}}},
		})
	}
	rules, err := c.writeRules(dir)
	if err != nil {
		return "", err
	}
	pc.RuleFiles = rules

	b, err := yaml.Marshal(pc)
	if err != nil {
		return "", fmt.Errorf("%w: encode prometheus.yml: %w", ErrConfig, err)
	}
	path := filepath.Join(dir, "prometheus.yml")
	if err := os.WriteFile(path, b, 0o644); err != nil {
		return "", fmt.Errorf("%w: %w", ErrConfig, err)
	}
	return path, nil
}

// writeRules returns the absolute rule file paths Prometheus should load,
// writing rewritten copies into dir when needed.
func (c Config) writeRules(dir string) ([]string, error) {
	rw := RuleRewrite{TimeScale: c.TimeScale, MinRange: c.minRange(), Overrides: c.RuleOverrides}
	rewrite := scaler{factor: c.TimeScale}.active() || len(c.RuleOverrides) > 0
	used := map[string]bool{}
	paths := make([]string, 0, len(c.RuleFiles))
	for i, f := range c.RuleFiles {
		abs, err := filepath.Abs(f)
		if err != nil {
			return nil, fmt.Errorf("%w: rule file %s: %w", ErrConfig, f, err)
		}
		src, err := os.ReadFile(abs)
		if err != nil {
			return nil, fmt.Errorf("%w: rule file: %w", ErrConfig, err)
		}
		if !rewrite {
			paths = append(paths, abs)
			continue
		}
		out, u, err := rewriteRules(src, rw)
		if err != nil {
			return nil, fmt.Errorf("%w: %s: %w", ErrConfig, f, err)
		}
		for name := range u {
			used[name] = true
		}
		dst := filepath.Join(dir, fmt.Sprintf("rules-%d-%s", i+1, filepath.Base(f)))
		if err := os.WriteFile(dst, out, 0o644); err != nil {
			return nil, fmt.Errorf("%w: %w", ErrConfig, err)
		}
		paths = append(paths, dst)
	}
	if missing := unusedOverrides(c.RuleOverrides, used); len(missing) > 0 {
		return nil, fmt.Errorf("%w: RuleOverrides name rules no rule file has: %s", ErrConfig, strings.Join(missing, ", "))
	}
	return paths, nil
}
