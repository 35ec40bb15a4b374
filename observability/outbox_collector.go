package observability

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/huleedu/huleedu/outbox"
)

// OutboxTableSource is what OutboxCollector reads from the database at
// scrape time. *outbox.Outbox implements it.
type OutboxTableSource interface {
	Stats(ctx context.Context) (outbox.TableStats, error)
}

// OutboxRelaySource is what OutboxCollector reads from the process's
// relay. *outbox.Relay implements it.
type OutboxRelaySource interface {
	Stats() outbox.RelayStats
}

// DefaultOutboxStatsTimeout bounds the database queries of one scrape.
const DefaultOutboxStatsTimeout = 5 * time.Second

// OutboxCollector is a prometheus.Collector for a service's transactional
// outbox: the table (depth, oldest pending event, dead letters, live
// relays), read from the database at scrape time, and the counters of
// the process's relay. The table's series are the same on every replica
// of the service (one table); the relay's are per process. All series
// carry the constant label service; see the package documentation for
// the list.
//
// When the database does not answer, the table's series are left out of
// the scrape (the error counts in promhttp_metric_handler_errors_total)
// and the relay's are still served.
type OutboxCollector struct {
	table   OutboxTableSource
	relay   OutboxRelaySource // nil: no relay in this process
	now     func() time.Time
	timeout time.Duration

	depth, retrying, oldestAge, deadLetters, relays *prometheus.Desc
	running, leases                                 *prometheus.Desc
	published, failed, deadLettered, errors         *prometheus.Desc
}

// OutboxCollectorOption configures an OutboxCollector.
type OutboxCollectorOption func(*OutboxCollector)

// WithOutboxClock sets the clock of outbox_oldest_event_age_seconds
// (default time.Now). A nil now keeps the default.
func WithOutboxClock(now func() time.Time) OutboxCollectorOption {
	return func(c *OutboxCollector) {
		if now != nil {
			c.now = now
		}
	}
}

// WithOutboxStatsTimeout bounds the database queries of one scrape
// (default DefaultOutboxStatsTimeout); d <= 0 keeps the default.
func WithOutboxStatsTimeout(d time.Duration) OutboxCollectorOption {
	return func(c *OutboxCollector) {
		if d > 0 {
			c.timeout = d
		}
	}
}

// NewOutboxCollector returns a collector of table and, when not nil, the
// process's relay, each series labelled service=service.
func NewOutboxCollector(service string, table OutboxTableSource, relay OutboxRelaySource, opts ...OutboxCollectorOption) *OutboxCollector {
	cl := prometheus.Labels{"service": service}
	desc := func(name, help string) *prometheus.Desc { return prometheus.NewDesc(name, help, nil, cl) }
	c := &OutboxCollector{
		table: table, relay: relay, now: time.Now, timeout: DefaultOutboxStatsTimeout,

		depth:       desc("outbox_queue_depth", "Outbox rows waiting to be published (neither published nor dead-lettered)."),
		retrying:    desc("outbox_queue_retrying", "Outbox rows waiting for a retry after a failed publish."),
		oldestAge:   desc("outbox_oldest_event_age_seconds", "Age of the oldest outbox row waiting to be published; 0 when none waits."),
		deadLetters: desc("outbox_dead_letters", "Outbox rows Kafka rejected for good, kept until an operator re-drives or purges them."),
		relays:      desc("outbox_relays_alive", "Relays with an unexpired heartbeat in the outbox table."),
		running:     desc("outbox_relay_running", "1 while this process's outbox relay runs, else 0."),
		leases:      desc("outbox_leases_held", "Outbox lease partitions this process's relay holds (64 in all)."),
		published:   desc("outbox_published_total", "Outbox rows this process's relay published (Kafka acknowledged them)."),
		failed:      desc("outbox_publish_failures_total", "Outbox publish attempts that failed with a retriable error; the rows are retried."),
		deadLettered: desc("outbox_dead_lettered_total",
			"Outbox rows Kafka rejected for good, moved to the dead letters by this process's relay."),
		errors: desc("outbox_relay_errors_total", "Database failures of this process's outbox relay (reads, settling, leases); each is retried."),
	}
	for _, opt := range opts {
		opt(c)
	}
	return c
}

// Describe sends every metric description.
func (c *OutboxCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.depth, c.retrying, c.oldestAge, c.deadLetters, c.relays,
		c.running, c.leases, c.published, c.failed, c.deadLettered, c.errors} {
		ch <- d
	}
}

// Collect reads the table once (bounded by the stats timeout) and the
// relay's counters, and sends the metrics.
func (c *OutboxCollector) Collect(ch chan<- prometheus.Metric) {
	gauge := func(d *prometheus.Desc, v float64) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v)
	}
	counter := func(d *prometheus.Desc, v uint64) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v))
	}
	ctx, cancel := context.WithTimeout(context.Background(), c.timeout)
	st, err := c.table.Stats(ctx)
	cancel()
	if err != nil {
		ch <- prometheus.NewInvalidMetric(c.depth, err)
	} else {
		gauge(c.depth, float64(st.Pending))
		gauge(c.retrying, float64(st.Retrying))
		age := 0.0
		if st.Pending > 0 && !st.OldestPendingAt.IsZero() {
			age = max(c.now().Sub(st.OldestPendingAt).Seconds(), 0)
		}
		gauge(c.oldestAge, age)
		gauge(c.deadLetters, float64(st.DeadLetters))
		gauge(c.relays, float64(len(st.Relays)))
	}
	if c.relay == nil {
		return
	}
	rs := c.relay.Stats()
	running := 0.0
	if rs.Running {
		running = 1
	}
	gauge(c.running, running)
	gauge(c.leases, float64(rs.Leases))
	counter(c.published, rs.Published)
	counter(c.failed, rs.Failed)
	counter(c.deadLettered, rs.DeadLettered)
	counter(c.errors, rs.Errors)
}

// outboxLatencyBuckets span 1 ms (a NOTIFY wake-up and a local broker) to
// an hour (rows that waited out a Kafka outage in the table).
var outboxLatencyBuckets = []float64{
	0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
	1, 2.5, 5, 10, 30, 60, 300, 900, 3600,
}

// NewOutboxPublishLatency returns the outbox_publish_latency_seconds
// histogram labelled service=service, buckets 1 ms to 1 h. Register it and
// hand it to the relay (outbox.RelayOptions.Latency), which observes the
// seconds from each published row's commit to Kafka's acknowledgement.
func NewOutboxPublishLatency(service string) prometheus.Histogram {
	return prometheus.NewHistogram(prometheus.HistogramOpts{
		Name:        "outbox_publish_latency_seconds",
		Help:        "Time from an outbox row's commit to Kafka's acknowledgement of its record, retries and outages included.",
		ConstLabels: prometheus.Labels{"service": service},
		Buckets:     outboxLatencyBuckets,
	})
}
