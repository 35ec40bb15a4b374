package promtest_test

import (
	"regexp"
	"slices"
	"strings"

	"github.com/huleedu/huleedu/services/llmprovider"
)

// knownMetrics are the metric names package observability exports (see its
// doc.go; TestKnownMetricsMatchObservability keeps this list honest). The
// dashboard and the alert rules may use only these, so a renamed metric
// cannot leave a panel or an alert silently empty.
var knownMetrics = []string{
	"circuit_breaker_state",
	"circuit_breaker_state_changes_total",
	"circuit_breaker_calls_total",
	"kafka_fallback_queue_depth",
	"kafka_fallback_queue_bytes",
	"kafka_fallback_queue_max_records",
	"kafka_fallback_queue_max_bytes",
	"kafka_fallback_oldest_age_seconds",
	"kafka_fallback_dead_letters",
	"kafka_fallback_quarantined_ranges",
	"kafka_fallback_queue_failed",
	"kafka_fallback_missing_records",
	"kafka_published_total",
	"kafka_fallback_spooled_total",
	"kafka_fallback_replayed_total",
	"kafka_fallback_dead_lettered_total",
	"kafka_publish_rejected_total",
	"kafka_publish_duration_seconds", // histogram
	"outbox_queue_depth",
	"outbox_queue_retrying",
	"outbox_oldest_event_age_seconds",
	"outbox_dead_letters",
	"outbox_relays_alive",
	"outbox_relay_running",
	"outbox_leases_held",
	"outbox_published_total",
	"outbox_publish_failures_total",
	"outbox_dead_lettered_total",
	"outbox_relay_errors_total",
	"outbox_publish_latency_seconds", // histogram
	"service_info",
}

// histograms among knownMetrics: their series are NAME_bucket, _sum, _count.
var histograms = []string{"kafka_publish_duration_seconds", "outbox_publish_latency_seconds"}

// llmMetrics are the LLM Provider Service's own metrics; its tests keep
// llmprovider.MetricNames equal to what it exports. llmHistograms are the
// histograms among them.
var (
	llmMetrics    = llmprovider.MetricNames
	llmHistograms = []string{"llm_provider_call_duration_seconds"}
)

// allMetrics are every metric the services export: observability's and
// the LLM Provider's.
func allMetrics() []string { return slices.Concat(knownMetrics, llmMetrics) }

// isHistogram reports whether name is a known histogram.
func isHistogram(name string) bool {
	return slices.Contains(histograms, name) || slices.Contains(llmHistograms, name)
}

// isKnownSeriesName reports whether name is a series of a known metric.
func isKnownSeriesName(name string) bool {
	if slices.Contains(allMetrics(), name) {
		return true
	}
	for _, h := range slices.Concat(histograms, llmHistograms) {
		for _, suffix := range []string{"_bucket", "_sum", "_count"} {
			if name == h+suffix {
				return true
			}
		}
	}
	return false
}

// grafanaVars are Grafana's interval variables and the dashboard's own;
// replacing them gives PromQL that Prometheus accepts.
var grafanaVars = strings.NewReplacer(
	"$__rate_interval", "1m",
	"$__interval", "1m",
	"$__range", "1h",
	"$service", ".*",
	"$circuit", ".*",
)

var (
	stringLitRE = regexp.MustCompile(`"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|` + "`[^`]*`")
	matchersRE  = regexp.MustCompile(`\{[^{}]*\}`)
	bracketsRE  = regexp.MustCompile(`\[[^\[\]]*\]`)
	groupingRE  = regexp.MustCompile(`\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^()]*\)`)
	tokenRE     = regexp.MustCompile(`\d[\w.]*|[a-zA-Z_:][a-zA-Z0-9_:]*(\s*\()?`)
)

// promqlKeywords are identifiers that are not metric names.
var promqlKeywords = []string{
	"and", "or", "unless", "bool", "offset", "by", "without", "on", "ignoring",
	"group_left", "group_right", "inf", "nan", "Inf", "NaN",
}

// metricNames returns the metric names a PromQL expression selects. It is a
// small lexer, not a parser: it drops string literals, label matchers,
// range brackets and grouping clauses, then keeps the identifiers that are
// neither function calls nor keywords. The project's expressions use no
// construct it gets wrong, and TestDashboardAndAlertQueriesRunInPrometheus
// checks that Prometheus itself accepts every one of them.
func metricNames(expr string) []string {
	s := stringLitRE.ReplaceAllString(expr, `""`)
	s = matchersRE.ReplaceAllString(s, " ")
	s = bracketsRE.ReplaceAllString(s, " ")
	s = groupingRE.ReplaceAllString(s, " ")
	var names []string
	for _, m := range tokenRE.FindAllStringSubmatch(s, -1) {
		tok := m[0]
		if m[1] != "" || tok[0] >= '0' && tok[0] <= '9' || slices.Contains(promqlKeywords, tok) {
			continue // a function call, a number or a keyword
		}
		if !slices.Contains(names, tok) {
			names = append(names, tok)
		}
	}
	return names
}
