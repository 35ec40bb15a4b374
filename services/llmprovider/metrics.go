package llmprovider

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// MetricNames are the metrics the service exports besides servicekit's
// (breakers, bus, consumer): the provider calls, tokens and cost, and the
// queue. docs/operations.md describes each.
var MetricNames = []string{
	"llm_provider_calls_total",
	"llm_provider_call_duration_seconds", // histogram
	"llm_provider_fallbacks_total",
	"llm_provider_in_flight",
	"llm_tokens_total",
	"llm_cost_usd_total",
	"llm_queue_depth",
	"llm_queue_bytes",
	"llm_queue_max_requests",
	"llm_queue_max_bytes",
	"llm_queue_oldest_age_seconds",
	"llm_queue_submissions_total",
	"llm_comparisons_completed_total",
	"llm_comparisons_failed_total",
}

// Metrics are the service's Prometheus collectors. Register it on the
// service's registry; the queue gauges are read from the Queue at scrape
// time. It is safe for concurrent use.
type Metrics struct {
	calls       *prometheus.CounterVec
	duration    *prometheus.HistogramVec
	fallbacks   *prometheus.CounterVec
	inFlight    *prometheus.GaugeVec
	tokens      *prometheus.CounterVec
	cost        *prometheus.CounterVec
	submissions *prometheus.CounterVec
	completed   prometheus.Counter
	failed      *prometheus.CounterVec
	queue       *queueCollector
}

// NewMetrics returns the collectors of service, reading the queue gauges
// from q (nil: no queue gauges).
func NewMetrics(service string, q Queue, now func() time.Time) *Metrics {
	if now == nil {
		now = time.Now
	}
	c := prometheus.Labels{"service": service}
	m := &Metrics{
		calls: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "llm_provider_calls_total", ConstLabels: c,
			Help: "Provider calls by provider, model and outcome (success, retriable, rate_limited, rejected, canceled); breaker rejections are in circuit_breaker_calls_total."},
			[]string{"provider", "model", "outcome"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "llm_provider_call_duration_seconds", ConstLabels: c,
			Help:    "Duration of one provider call, whatever its outcome.",
			Buckets: []float64{0.001, 0.01, 0.1, 0.5, 1, 2, 5, 10, 20, 30, 60, 120}},
			[]string{"provider"}),
		fallbacks: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "llm_provider_fallbacks_total", ConstLabels: c,
			Help: "Times a comparison moved past this provider to the next one (breaker open, rate limited, retries used up)."},
			[]string{"provider"}),
		inFlight: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "llm_provider_in_flight", ConstLabels: c,
			Help: "Provider calls in flight (bounded by LLM_PROVIDER_MAX_CONCURRENCY)."},
			[]string{"provider"}),
		tokens: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "llm_tokens_total", ConstLabels: c,
			Help: "Tokens used by successful calls, by provider, model and direction (input, output)."},
			[]string{"provider", "model", "direction"}),
		cost: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "llm_cost_usd_total", ConstLabels: c,
			Help: "Estimated cost of successful calls in US dollars, from the price table (LLM_PRICES)."},
			[]string{"provider", "model"}),
		submissions: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "llm_queue_submissions_total", ConstLabels: c,
			Help: "POST /v1/comparison requests by result: accepted, duplicate (a known request id), queue_full."},
			[]string{"result"}),
		completed: prometheus.NewCounter(prometheus.CounterOpts{Name: "llm_comparisons_completed_total", ConstLabels: c,
			Help: "Comparisons judged and their result published."}),
		failed: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "llm_comparisons_failed_total", ConstLabels: c,
			Help: "Comparisons that ended with a failure event, by reason (rejected, expired, undeliverable)."},
			[]string{"reason"}),
	}
	if q != nil {
		m.queue = newQueueCollector(c, q, now)
	}
	for _, r := range []string{"accepted", "duplicate", "queue_full"} {
		m.submissions.WithLabelValues(r)
	}
	for _, r := range []string{"rejected", "expired", "undeliverable"} {
		m.failed.WithLabelValues(r)
	}
	return m
}

// Describe implements prometheus.Collector.
func (m *Metrics) Describe(ch chan<- *prometheus.Desc) {
	for _, c := range m.collectors() {
		c.Describe(ch)
	}
}

// Collect implements prometheus.Collector.
func (m *Metrics) Collect(ch chan<- prometheus.Metric) {
	for _, c := range m.collectors() {
		c.Collect(ch)
	}
}

func (m *Metrics) collectors() []prometheus.Collector {
	cs := []prometheus.Collector{m.calls, m.duration, m.fallbacks, m.inFlight, m.tokens, m.cost, m.submissions, m.completed, m.failed}
	if m.queue != nil {
		cs = append(cs, m.queue)
	}
	return cs
}

// providerReady creates a provider's series at 0, so dashboards and rate()
// see them before the first call.
func (m *Metrics) providerReady(provider, model string) {
	for _, o := range []Class{ClassSuccess, ClassRetriable, ClassRateLimited, ClassRejected} {
		m.calls.WithLabelValues(provider, model, o.String())
	}
	m.fallbacks.WithLabelValues(provider)
	m.inFlight.WithLabelValues(provider)
	m.tokens.WithLabelValues(provider, model, "input")
	m.tokens.WithLabelValues(provider, model, "output")
	m.cost.WithLabelValues(provider, model)
}

func (m *Metrics) observeCall(provider, model string, class Class, took time.Duration) {
	m.calls.WithLabelValues(provider, model, class.String()).Inc()
	m.duration.WithLabelValues(provider).Observe(took.Seconds())
}

func (m *Metrics) observeUsage(provider, model string, in, out int64, cost float64) {
	m.tokens.WithLabelValues(provider, model, "input").Add(float64(in))
	m.tokens.WithLabelValues(provider, model, "output").Add(float64(out))
	m.cost.WithLabelValues(provider, model).Add(cost)
}

// queueCollector reads the queue's gauges at scrape time.
type queueCollector struct {
	q                                        Queue
	now                                      func() time.Time
	depth, bytes, maxRequests, maxBytes, age *prometheus.Desc
}

func newQueueCollector(c prometheus.Labels, q Queue, now func() time.Time) *queueCollector {
	d := func(name, help string) *prometheus.Desc { return prometheus.NewDesc(name, help, nil, c) }
	return &queueCollector{q: q, now: now,
		depth:       d("llm_queue_depth", "Comparison requests in the queue, waiting or being judged."),
		bytes:       d("llm_queue_bytes", "Bytes of the requests in the queue (essays, prompt, rubric)."),
		maxRequests: d("llm_queue_max_requests", "The queue's limit in requests (LLM_QUEUE_MAX_REQUESTS)."),
		maxBytes:    d("llm_queue_max_bytes", "The queue's limit in bytes (LLM_QUEUE_MAX_BYTES)."),
		age:         d("llm_queue_oldest_age_seconds", "Age of the oldest request in the queue; 0 when it is empty."),
	}
}

func (c *queueCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.depth, c.bytes, c.maxRequests, c.maxBytes, c.age} {
		ch <- d
	}
}

func (c *queueCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	st, err := c.q.Stats(ctx)
	if err != nil {
		ch <- prometheus.NewInvalidMetric(c.depth, err)
		return
	}
	age := 0.0
	if !st.OldestAt.IsZero() {
		age = max(c.now().Sub(st.OldestAt).Seconds(), 0)
	}
	for _, v := range []struct {
		d *prometheus.Desc
		v float64
	}{{c.depth, float64(st.Requests)}, {c.bytes, float64(st.Bytes)}, {c.maxRequests, float64(st.MaxRequests)},
		{c.maxBytes, float64(st.MaxBytes)}, {c.age, age}} {
		ch <- prometheus.MustNewConstMetric(v.d, prometheus.GaugeValue, v.v)
	}
}
