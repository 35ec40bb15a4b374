package promtest_test

import (
	"encoding/json"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/model"
	"go.yaml.in/yaml/v3"
)

// The deployment artefacts, relative to this package.
const (
	dashboardPath = "../../deploy/grafana/huleedu-resilience.json"
	alertsPath    = "../../deploy/prometheus/alerts.yml"
	runbookPath   = "../../docs/operations.md"
	runbookURL    = "https://github.com/huleedu/huleedu/blob/main/docs/operations.md#"
)

// wantAlerts are the alerts issues 6, 16, 18 and 20 ask for, in the order
// of alerts.yml.
var wantAlerts = []string{
	"CircuitBreakerOpen",
	"CircuitBreakerFlapping",
	"FallbackQueueGrowing",
	"FallbackQueueNearlyFull",
	"FallbackQueueOldestRecordStale",
	"DeadLettersPresent",
	"FallbackDrainStalled",
	"FallbackSpoolStorageFailed",
	"FallbackSpoolRecordsMissing",
	"OutboxBacklogGrowing",
	"OutboxOldestEventTooOld",
	"OutboxDeadLettersPresent",
	"OutboxRelayNotRunning",
	"LLMProvidersUnavailable",
	"LLMQueueNearlyFull",
	"LLMQueueOldestRequestStale",
	"LLMComparisonsFailing",
}

// dashboard is the part of a Grafana dashboard these tests look at.
type dashboard struct {
	UID           string  `json:"uid"`
	Title         string  `json:"title"`
	SchemaVersion int     `json:"schemaVersion"`
	Panels        []panel `json:"panels"`
	Templating    struct {
		List []struct {
			Name  string          `json:"name"`
			Type  string          `json:"type"`
			Query json.RawMessage `json:"query"`
		} `json:"list"`
	} `json:"templating"`
	Annotations struct {
		List []struct {
			Name string `json:"name"`
			Expr string `json:"expr"`
		} `json:"list"`
	} `json:"annotations"`
}

type panel struct {
	Type       string          `json:"type"`
	Title      string          `json:"title"`
	Datasource json.RawMessage `json:"datasource"`
	Targets    []struct {
		Expr string `json:"expr"`
	} `json:"targets"`
	Panels []panel `json:"panels"` // a collapsed row's panels
}

func loadDashboard(t *testing.T) dashboard {
	t.Helper()
	b, err := os.ReadFile(dashboardPath)
	if err != nil {
		t.Fatal(err)
	}
	if !json.Valid(b) {
		t.Fatalf("%s is not valid JSON", dashboardPath)
	}
	var d dashboard
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatalf("%s: %v", dashboardPath, err)
	}
	return d
}

// allPanels flattens rows.
func allPanels(ps []panel) []panel {
	var out []panel
	for _, p := range ps {
		out = append(out, p)
		out = append(out, allPanels(p.Panels)...)
	}
	return out
}

// dashboardExprs returns every PromQL expression of the dashboard's panels
// and annotations, keyed by where it is.
func dashboardExprs(d dashboard) map[string]string {
	exprs := map[string]string{}
	for _, p := range allPanels(d.Panels) {
		for i, tg := range p.Targets {
			exprs[p.Title+" #"+string(rune('A'+i))] = tg.Expr
		}
	}
	for _, a := range d.Annotations.List {
		if a.Expr != "" {
			exprs["annotation "+a.Name] = a.Expr
		}
	}
	return exprs
}

// labelValuesRE matches a Grafana label_values(selector, label) query.
var labelValuesRE = regexp.MustCompile(`^label_values\((.*),\s*\w+\)$`)

// variableQueries returns the selectors of the dashboard's query variables.
func variableQueries(t *testing.T, d dashboard) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, v := range d.Templating.List {
		if v.Type != "query" {
			continue
		}
		// Grafana accepts the query as a string or, since 10, as an
		// object with a query field.
		var q string
		if err := json.Unmarshal(v.Query, &q); err != nil {
			var obj struct {
				Query string `json:"query"`
			}
			if err := json.Unmarshal(v.Query, &obj); err != nil {
				t.Fatalf("variable %s: query %s is neither a string nor an object with a query", v.Name, v.Query)
			}
			q = obj.Query
		}
		m := labelValuesRE.FindStringSubmatch(q)
		if m == nil {
			t.Fatalf("variable %s: query %q is not label_values(selector, label)", v.Name, q)
		}
		out["variable "+v.Name] = m[1]
	}
	return out
}

func TestDashboardIsValidJSONAndUsesKnownMetrics(t *testing.T) {
	d := loadDashboard(t)
	if d.UID == "" || d.Title == "" || d.SchemaVersion < 36 {
		t.Errorf("uid %q, title %q, schemaVersion %d: want a uid, a title and schemaVersion >= 36", d.UID, d.Title, d.SchemaVersion)
	}
	exprs := dashboardExprs(d)
	for k, v := range variableQueries(t, d) {
		exprs[k] = v
	}
	if len(exprs) == 0 {
		t.Fatal("the dashboard has no queries")
	}
	for where, expr := range exprs {
		names := metricNames(expr)
		if len(names) == 0 {
			t.Errorf("%s: %q selects no metric", where, expr)
		}
		for _, n := range names {
			if !isKnownSeriesName(n) {
				t.Errorf("%s: metric %q is not one observability exports (query %q)", where, n, expr)
			}
		}
	}
}

// TestDashboardShowsWhatTheIssueAsks checks each requested view by the
// metric it must query, so a panel cannot disappear unnoticed.
func TestDashboardShowsWhatTheIssueAsks(t *testing.T) {
	d := loadDashboard(t)
	var vars []string
	for _, v := range d.Templating.List {
		vars = append(vars, v.Name+":"+v.Type)
	}
	for _, want := range []string{"DS_PROMETHEUS:datasource", "service:query"} {
		if !slices.Contains(vars, want) {
			t.Errorf("template variables %v lack %s", vars, want)
		}
	}
	type view struct{ panelType, exprContains string }
	for name, v := range map[string]view{
		"breaker state timeline":    {"state-timeline", "circuit_breaker_state{"},
		"calls by result":           {"timeseries", "rate(circuit_breaker_calls_total"},
		"queue depth":               {"timeseries", "kafka_fallback_queue_depth"},
		"queue bytes":               {"timeseries", "kafka_fallback_queue_bytes"},
		"oldest age":                {"timeseries", "kafka_fallback_oldest_age_seconds"},
		"replay rate":               {"timeseries", "rate(kafka_fallback_replayed_total"},
		"dead-letter rate":          {"timeseries", "rate(kafka_fallback_dead_lettered_total"},
		"publish latency p50":       {"timeseries", "histogram_quantile(0.5, sum by (service, le) (rate(kafka_publish_duration_seconds_bucket"},
		"publish latency p99":       {"timeseries", "histogram_quantile(0.99, sum by (service, le) (rate(kafka_publish_duration_seconds_bucket"},
		"queries filter by service": {"timeseries", `service=~"$service"`},
		"outbox depth":              {"timeseries", "outbox_queue_depth"},
		"outbox oldest age":         {"timeseries", "outbox_oldest_event_age_seconds"},
		"outbox dead letters":       {"stat", "outbox_dead_letters"},
		"outbox relays":             {"timeseries", "outbox_relays_alive"},
		"outbox latency p99":        {"timeseries", "histogram_quantile(0.99, sum by (service, le) (rate(outbox_publish_latency_seconds_bucket"},
		"LLM provider breakers":     {"state-timeline", `circuit_name=~"llm_.*"`},
		"LLM calls by outcome":      {"timeseries", "rate(llm_provider_calls_total"},
		"LLM call latency p99":      {"timeseries", "histogram_quantile(0.99, sum by (provider, le) (rate(llm_provider_call_duration_seconds_bucket"},
		"LLM tokens":                {"timeseries", "rate(llm_tokens_total"},
		"LLM cost":                  {"timeseries", "increase(llm_cost_usd_total"},
		"LLM queue depth":           {"timeseries", "llm_queue_depth"},
		"LLM queue age":             {"timeseries", "llm_queue_oldest_age_seconds"},
		"LLM comparison failures":   {"timeseries", "rate(llm_comparisons_failed_total"},
	} {
		found := false
		for _, p := range allPanels(d.Panels) {
			for _, tg := range p.Targets {
				if p.Type == v.panelType && strings.Contains(tg.Expr, v.exprContains) {
					found = true
				}
			}
		}
		if !found {
			t.Errorf("%s: no %s panel queries %q", name, v.panelType, v.exprContains)
		}
	}
	for _, p := range allPanels(d.Panels) {
		if p.Type == "row" {
			continue
		}
		if !strings.Contains(string(p.Datasource), "${DS_PROMETHEUS}") {
			t.Errorf("panel %q: datasource %s, want the ${DS_PROMETHEUS} variable", p.Title, p.Datasource)
		}
	}
}

// ruleFile is the part of a Prometheus rule file these tests look at.
type ruleFile struct {
	Groups []struct {
		Name  string `yaml:"name"`
		Rules []struct {
			Alert       string            `yaml:"alert"`
			Expr        string            `yaml:"expr"`
			For         string            `yaml:"for"`
			Labels      map[string]string `yaml:"labels"`
			Annotations map[string]string `yaml:"annotations"`
		} `yaml:"rules"`
	} `yaml:"groups"`
}

func loadAlerts(t *testing.T) ruleFile {
	t.Helper()
	b, err := os.ReadFile(alertsPath)
	if err != nil {
		t.Fatal(err)
	}
	var rf ruleFile
	if err := yaml.Unmarshal(b, &rf); err != nil {
		t.Fatalf("%s: %v", alertsPath, err)
	}
	return rf
}

func TestAlertRulesUseKnownMetrics(t *testing.T) {
	for _, g := range loadAlerts(t).Groups {
		for _, r := range g.Rules {
			for _, n := range metricNames(r.Expr) {
				if !isKnownSeriesName(n) {
					t.Errorf("%s: metric %q is not one observability exports", r.Alert, n)
				}
			}
		}
	}
}

// githubAnchor turns a Markdown heading into the anchor GitHub gives it.
func githubAnchor(heading string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(strings.TrimSpace(heading)) {
		switch {
		case r == ' ':
			b.WriteRune('-')
		case r == '-' || r == '_' || r >= 'a' && r <= 'z' || r >= '0' && r <= '9':
			b.WriteRune(r)
		}
	}
	return b.String()
}

func TestEveryAlertHasSeveritySummaryAndARunbookSection(t *testing.T) {
	doc, err := os.ReadFile(runbookPath)
	if err != nil {
		t.Fatal(err)
	}
	anchors := map[string]bool{}
	for _, m := range regexp.MustCompile(`(?m)^#{1,6}\s+(.+)$`).FindAllStringSubmatch(string(doc), -1) {
		anchors[githubAnchor(m[1])] = true
	}

	var names []string
	for _, g := range loadAlerts(t).Groups {
		for _, r := range g.Rules {
			names = append(names, r.Alert)
			if s := r.Labels["severity"]; s != "warning" && s != "critical" {
				t.Errorf("%s: severity %q, want warning or critical", r.Alert, s)
			}
			for _, a := range []string{"summary", "description", "runbook_url"} {
				if r.Annotations[a] == "" {
					t.Errorf("%s: no %s annotation", r.Alert, a)
				}
			}
			anchor, ok := strings.CutPrefix(r.Annotations["runbook_url"], runbookURL)
			if !ok || anchor != strings.ToLower(r.Alert) {
				t.Errorf("%s: runbook_url %q, want %s%s", r.Alert, r.Annotations["runbook_url"], runbookURL, strings.ToLower(r.Alert))
			}
			if !anchors[anchor] {
				t.Errorf("%s: %s has no heading with anchor #%s", r.Alert, runbookPath, anchor)
			}
		}
	}
	if !slices.Equal(names, wantAlerts) {
		t.Errorf("alerts %v, want %v", names, wantAlerts)
	}
}

// alertsTestPath holds the promtool unit tests of the alert rules.
const alertsTestPath = "../../deploy/prometheus/alerts_test.yml"

// promtoolTests is the part of a promtool test file these tests look at.
type promtoolTests struct {
	Tests []struct {
		Name          string `yaml:"name"`
		AlertRuleTest []struct {
			EvalTime  string           `yaml:"eval_time"`
			Alertname string           `yaml:"alertname"`
			ExpAlerts []map[string]any `yaml:"exp_alerts"`
		} `yaml:"alert_rule_test"`
	} `yaml:"tests"`
}

// alerts_test.yml promises that each alert is shown not firing, then
// firing, then resolved again, within one test: a rule whose tests only
// ever expect it firing (or never) would not catch a rule that cannot
// resolve (or cannot fire).
func TestEveryAlertHasAPromtoolTestThatFiresAndResolves(t *testing.T) {
	b, err := os.ReadFile(alertsTestPath)
	if err != nil {
		t.Fatal(err)
	}
	var pt promtoolTests
	if err := yaml.Unmarshal(b, &pt); err != nil {
		t.Fatalf("%s: %v", alertsTestPath, err)
	}
	shown := map[string]bool{}
	for _, tc := range pt.Tests {
		// Per alert, the eval times at which it is expected quiet or firing.
		type timeline struct{ quiet, firing []time.Duration }
		byAlert := map[string]*timeline{}
		for _, c := range tc.AlertRuleTest {
			at, err := model.ParseDuration(c.EvalTime)
			if err != nil {
				t.Fatalf("%s: test %q: eval_time %q: %v", alertsTestPath, tc.Name, c.EvalTime, err)
			}
			tl := byAlert[c.Alertname]
			if tl == nil {
				tl = &timeline{}
				byAlert[c.Alertname] = tl
			}
			if len(c.ExpAlerts) == 0 {
				tl.quiet = append(tl.quiet, time.Duration(at))
			} else {
				tl.firing = append(tl.firing, time.Duration(at))
			}
		}
		for name, tl := range byAlert {
			if len(tl.firing) == 0 || len(tl.quiet) == 0 {
				continue
			}
			first, last := slices.Min(tl.firing), slices.Max(tl.firing)
			if slices.Min(tl.quiet) < first && slices.Max(tl.quiet) > last {
				shown[name] = true
			}
		}
	}
	for _, name := range wantAlerts {
		if !shown[name] {
			t.Errorf("%s has no test that shows %s quiet, then firing, then resolved", alertsTestPath, name)
		}
	}
}
