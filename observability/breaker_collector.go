package observability

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/huleedu/huleedu/resilience"
)

// SnapshotSource is what BreakerCollector reads at scrape time.
// resilience.Registry implements it.
type SnapshotSource interface {
	Snapshots() []resilience.Snapshot
}

// Call results, the values of circuit_breaker_calls_total's result label
// (the original platform's names; "blocked" is resilience's Rejected).
const (
	resultSuccess = "success"
	resultFailure = "failure"
	resultBlocked = "blocked"
	resultIgnored = "ignored"
)

// canonicalTransitions are exported at 0 before they first happen, so that
// increase(circuit_breaker_state_changes_total{to_state="open"}[5m]) sees the
// first trip: a counter series that appears already at 1 has no increase.
var canonicalTransitions = [...][2]resilience.State{
	{resilience.StateClosed, resilience.StateOpen},
	{resilience.StateOpen, resilience.StateHalfOpen},
	{resilience.StateHalfOpen, resilience.StateClosed},
	{resilience.StateHalfOpen, resilience.StateOpen},
}

// BreakerCollector is a prometheus.Collector that exports circuit breaker
// state and counters from snapshots taken at scrape time. The breakers keep
// their own counters for their snapshots anyway, so exporting them costs the
// breaker's call path nothing: all the work happens in Collect, once per
// scrape.
//
// It exports circuit_breaker_state, circuit_breaker_state_changes_total and
// circuit_breaker_calls_total (see the package documentation), all with the
// constant label service and the label circuit_name.
type BreakerCollector struct {
	src     SnapshotSource
	state   *prometheus.Desc
	changes *prometheus.Desc
	calls   *prometheus.Desc
}

// NewBreakerCollector returns a collector for every breaker src lists, each
// series labelled service=service. Breaker names must be unique within src
// (a resilience.Registry guarantees it); register one collector per source.
func NewBreakerCollector(service string, src SnapshotSource) *BreakerCollector {
	cl := prometheus.Labels{"service": service}
	return &BreakerCollector{
		src: src,
		state: prometheus.NewDesc("circuit_breaker_state",
			"Current circuit breaker state: 0 closed, 1 open, 2 half-open.",
			[]string{"circuit_name"}, cl),
		changes: prometheus.NewDesc("circuit_breaker_state_changes_total",
			"Circuit breaker state transitions, by from_state and to_state (closed, open, half_open).",
			[]string{"circuit_name", "from_state", "to_state"}, cl),
		calls: prometheus.NewDesc("circuit_breaker_calls_total",
			"Calls through the circuit breaker by result: success, failure, blocked (rejected without running), ignored.",
			[]string{"circuit_name", "result"}, cl),
	}
}

// Describe sends the three metric descriptions.
func (c *BreakerCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.state
	ch <- c.changes
	ch <- c.calls
}

// Collect reads one snapshot per breaker and sends its metrics.
func (c *BreakerCollector) Collect(ch chan<- prometheus.Metric) {
	for _, s := range c.src.Snapshots() {
		c.collectOne(ch, &s)
	}
}

func (c *BreakerCollector) collectOne(ch chan<- prometheus.Metric, s *resilience.Snapshot) {
	ch <- prometheus.MustNewConstMetric(c.state, prometheus.GaugeValue, float64(s.State), s.Name)

	t := s.Totals
	for _, r := range [...]struct {
		result string
		n      uint64
	}{
		{resultSuccess, t.Successes},
		{resultFailure, t.Failures},
		{resultBlocked, t.Rejected},
		{resultIgnored, t.Ignored},
	} {
		ch <- prometheus.MustNewConstMetric(c.calls, prometheus.CounterValue, float64(r.n), s.Name, r.result)
	}

	// Sum per (from, to): a duplicate label set would make the whole
	// scrape fail, and the four canonical pairs start at zero.
	var counts [3][3]uint64
	var seen [3][3]bool
	for _, p := range canonicalTransitions {
		seen[p[0]][p[1]] = true
	}
	for _, tr := range s.Transitions {
		if !validState(tr.From) || !validState(tr.To) {
			continue
		}
		counts[tr.From][tr.To] += tr.Count
		seen[tr.From][tr.To] = true
	}
	for from := range counts {
		for to := range counts[from] {
			if !seen[from][to] {
				continue
			}
			ch <- prometheus.MustNewConstMetric(c.changes, prometheus.CounterValue, float64(counts[from][to]),
				s.Name, resilience.State(from).String(), resilience.State(to).String())
		}
	}
}

func validState(s resilience.State) bool {
	return s >= resilience.StateClosed && s <= resilience.StateHalfOpen
}
