package observability

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/huleedu/huleedu/kafkabus"
)

// BusStatsSource is what BusCollector reads at scrape time.
// kafkabus.ResilientBus implements it.
type BusStatsSource interface {
	Stats() kafkabus.Stats
}

// BusCollector is a prometheus.Collector that exports a ResilientBus's
// fallback queue and delivery counters from one Stats call per scrape, so
// publishing costs nothing extra for metrics. All series carry the constant
// label service. See the package documentation for the list.
type BusCollector struct {
	src BusStatsSource
	now func() time.Time

	depth, bytes, maxBytes, maxRecords  *prometheus.Desc
	oldestAge, deadLetters, quarantined *prometheus.Desc
	failed, missing                     *prometheus.Desc
	published, spooled, replayed        *prometheus.Desc
	deadLettered, rejected              *prometheus.Desc
}

// BusCollectorOption configures a BusCollector.
type BusCollectorOption func(*BusCollector)

// WithClock sets the clock used for kafka_fallback_oldest_age_seconds
// (default time.Now), so tests can fix "now". A nil now keeps the default.
func WithClock(now func() time.Time) BusCollectorOption {
	return func(c *BusCollector) {
		if now != nil {
			c.now = now
		}
	}
}

// NewBusCollector returns a collector for src, each series labelled
// service=service.
func NewBusCollector(service string, src BusStatsSource, opts ...BusCollectorOption) *BusCollector {
	cl := prometheus.Labels{"service": service}
	desc := func(name, help string) *prometheus.Desc {
		return prometheus.NewDesc(name, help, nil, cl)
	}
	c := &BusCollector{
		src: src,
		now: time.Now,

		depth:       desc("kafka_fallback_queue_depth", "Records waiting in the Kafka fallback queue."),
		bytes:       desc("kafka_fallback_queue_bytes", "Bytes of records waiting in the Kafka fallback queue."),
		maxBytes:    desc("kafka_fallback_queue_max_bytes", "Byte limit of the Kafka fallback queue (absent when it has none)."),
		maxRecords:  desc("kafka_fallback_queue_max_records", "Record limit of the Kafka fallback queue (absent when it has none)."),
		oldestAge:   desc("kafka_fallback_oldest_age_seconds", "Age of the oldest record in the Kafka fallback queue; 0 when empty."),
		deadLetters: desc("kafka_fallback_dead_letters", "Records currently in the dead-letter store."),
		quarantined: desc("kafka_fallback_quarantined_ranges", "Damaged spool ranges moved aside since the spool was opened (on open and while reading)."),
		published:   desc("kafka_published_total", "Records Kafka acknowledged on the direct path."),
		spooled:     desc("kafka_fallback_spooled_total", "Records accepted into the fallback queue."),
		replayed:    desc("kafka_fallback_replayed_total", "Queued records delivered to Kafka by the replayer."),
		failed: desc("kafka_fallback_queue_failed",
			"1 while the disk spool refuses records because a write or fsync failed (it probes the storage and recovers on its own), else 0."),
		missing: desc("kafka_fallback_missing_records",
			"Records found missing from the disk spool's sequence since it was opened: lost to damage, or to segment files removed or cut short."),
		deadLettered: desc("kafka_fallback_dead_lettered_total",
			"Queued records Kafka rejected for good during replay, moved to the dead-letter store."),
		rejected: desc("kafka_publish_rejected_total", "Publish calls that returned an error: the record was not accepted."),
	}
	for _, opt := range opts {
		opt(c)
	}
	return c
}

// Describe sends every metric description.
func (c *BusCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range c.descs() {
		ch <- d
	}
}

func (c *BusCollector) descs() []*prometheus.Desc {
	return []*prometheus.Desc{
		c.depth, c.bytes, c.maxBytes, c.maxRecords, c.oldestAge, c.deadLetters,
		c.quarantined, c.failed, c.missing, c.published, c.spooled, c.replayed, c.deadLettered, c.rejected,
	}
}

// Collect reads Stats once and sends the metrics.
func (c *BusCollector) Collect(ch chan<- prometheus.Metric) {
	st := c.src.Stats()
	q := st.Queue
	gauge := func(d *prometheus.Desc, v float64) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v)
	}
	counter := func(d *prometheus.Desc, v uint64) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v))
	}

	gauge(c.depth, float64(q.Records))
	gauge(c.bytes, float64(q.Bytes))
	// A limit of 0 means "none in this unit" (memory queues count records,
	// disk spools bytes). Exporting 0 would make depth/limit +Inf and fire
	// every "above 80% of its limit" alert, so the series is left out.
	if q.MaxBytes > 0 {
		gauge(c.maxBytes, float64(q.MaxBytes))
	}
	if q.MaxRecords > 0 {
		gauge(c.maxRecords, float64(q.MaxRecords))
	}
	gauge(c.oldestAge, c.oldestAgeSeconds(q.Records, q.OldestAt))
	gauge(c.deadLetters, float64(q.DeadLetters))
	gauge(c.quarantined, float64(q.Quarantined))
	failed := 0.0
	if q.Failed != nil {
		failed = 1
	}
	gauge(c.failed, failed)
	gauge(c.missing, float64(q.MissingRecords))

	counter(c.published, st.Published)
	counter(c.spooled, st.Spooled)
	counter(c.replayed, st.Replayed)
	counter(c.deadLettered, st.DeadLettered)
	counter(c.rejected, st.Rejected)
}

// oldestAgeSeconds is 0 for an empty queue and never negative (a clock
// stepped backwards must not produce a negative age).
func (c *BusCollector) oldestAgeSeconds(records int64, oldest time.Time) float64 {
	if records <= 0 || oldest.IsZero() {
		return 0
	}
	return max(c.now().Sub(oldest).Seconds(), 0)
}
