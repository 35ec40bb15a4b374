package observability

import (
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// publishLatencyBuckets span 50 µs (a spool append on a fast disk, or a
// produce to a local broker) to 10 s (a produce waiting out broker timeouts),
// roughly 1-2.5-5 per decade so quantiles are within a factor of ~2.
var publishLatencyBuckets = []float64{
	0.00005, 0.0001, 0.00025, 0.0005,
	0.001, 0.0025, 0.005,
	0.01, 0.025, 0.05,
	0.1, 0.25, 0.5,
	1, 2.5, 5, 10,
}

// NewPublishLatency returns the kafka_publish_duration_seconds histogram
// labelled service=service, with buckets from 50 µs to 10 s. Register it and
// hand it to the ResilientBus, which calls Observe with the seconds each
// accepted or failed Publish took.
func NewPublishLatency(service string) prometheus.Histogram {
	return prometheus.NewHistogram(prometheus.HistogramOpts{
		Name:        "kafka_publish_duration_seconds",
		Help:        "Time a Publish call took until it returned, whether Kafka acknowledged the record or the fallback queue stored it.",
		ConstLabels: prometheus.Labels{"service": service},
		Buckets:     publishLatencyBuckets,
	})
}

// NewRegistry returns a Prometheus registry with the Go runtime and process
// collectors and a service_info{service="..."} gauge set to 1, which lets
// dashboards list the services that are up and join on the service label.
// Register the breaker, bus and latency metrics on it and serve it with
// Handler.
func NewRegistry(service string) *prometheus.Registry {
	reg := prometheus.NewRegistry()
	info := prometheus.NewGauge(prometheus.GaugeOpts{
		Name:        "service_info",
		Help:        "Always 1; identifies the service exporting these metrics.",
		ConstLabels: prometheus.Labels{"service": service},
	})
	info.Set(1)
	reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		info,
	)
	return reg
}

// Handler serves reg in the Prometheus exposition format. A collector that
// fails does not fail the scrape: the other metrics are still served and
// promhttp_metric_handler_errors_total (registered on reg) counts the error.
func Handler(reg *prometheus.Registry) http.Handler {
	return promhttp.InstrumentMetricHandler(reg, promhttp.HandlerFor(reg, promhttp.HandlerOpts{
		ErrorHandling: promhttp.ContinueOnError,
		Registry:      reg,
	}))
}
