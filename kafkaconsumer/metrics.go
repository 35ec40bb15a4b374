package kafkaconsumer

import "github.com/prometheus/client_golang/prometheus"

// Results counted by Metrics.
const (
	resultHandled       = "handled"        // the handler succeeded
	resultDuplicate     = "duplicate"      // skipped: the event_id was already handled
	resultFailedAttempt = "failed_attempt" // one handler attempt failed
	resultDeadLettered  = "dead_lettered"  // sent to the dead-letter topic
	resultMalformed     = "malformed"      // not a valid envelope (also dead-lettered)
	resultUnhandled     = "unhandled"      // failed with no dead-letter publisher: the consumer stopped at it
)

// Metrics counts consumed events as
// kafka_consumer_events_total{service, topic, result}, result being
// handled, duplicate, failed_attempt, dead_lettered, malformed or
// unhandled (the consumer had no dead-letter publisher and stopped). It is a
// prometheus.Collector; a nil *Metrics counts nothing.
type Metrics struct {
	events *prometheus.CounterVec
}

// NewMetrics returns the counters labelled service=service.
func NewMetrics(service string) *Metrics {
	return &Metrics{events: prometheus.NewCounterVec(prometheus.CounterOpts{
		Name:        "kafka_consumer_events_total",
		Help:        "Consumed Kafka events by topic and result (handled, duplicate, failed_attempt, dead_lettered, malformed, unhandled).",
		ConstLabels: prometheus.Labels{"service": service},
	}, []string{"topic", "result"})}
}

// Describe implements prometheus.Collector.
func (m *Metrics) Describe(ch chan<- *prometheus.Desc) { m.events.Describe(ch) }

// Collect implements prometheus.Collector.
func (m *Metrics) Collect(ch chan<- prometheus.Metric) { m.events.Collect(ch) }

func (m *Metrics) observe(topic, result string) {
	if m != nil {
		m.events.WithLabelValues(topic, result).Inc()
	}
}
