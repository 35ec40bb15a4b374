package llmprovider_test

import (
	"slices"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/huleedu/huleedu/services/llmprovider"
)

// metricValue returns the value of the series of name whose labels include
// the given label pairs, summed over the series that match.
func metricValue(t *testing.T, c prometheus.Collector, name string, labels ...string) float64 {
	t.Helper()
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(c)
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	sum := 0.0
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
		for _, m := range f.GetMetric() {
			if !hasLabels(m, labels) {
				continue
			}
			switch {
			case m.Counter != nil:
				sum += m.Counter.GetValue()
			case m.Gauge != nil:
				sum += m.Gauge.GetValue()
			case m.Histogram != nil:
				sum += float64(m.Histogram.GetSampleCount())
			}
		}
	}
	return sum
}

func hasLabels(m *dto.Metric, pairs []string) bool {
	for i := 0; i+1 < len(pairs); i += 2 {
		if !slices.ContainsFunc(m.GetLabel(), func(l *dto.LabelPair) bool { return l.GetName() == pairs[i] && l.GetValue() == pairs[i+1] }) {
			return false
		}
	}
	return true
}

func TestMetricsExportEveryListedName(t *testing.T) {
	q, _ := llmprovider.NewMemoryQueue(llmprovider.MemoryQueueOptions{MaxRequests: 10, MaxBytes: 100})
	m := llmprovider.NewMetrics("llm_provider_service", q, nil)
	x := newDispatch(t, []llmprovider.Provider{llmprovider.LocalProvider{}}, func(c *llmprovider.DispatcherConfig) { c.Metrics = m })
	if _, err := x.d.Judge(t.Context(), pair, ""); err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(m)
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, f := range families {
		got = append(got, f.GetName())
		for _, s := range f.GetMetric() {
			if !hasLabels(s, []string{"service", "llm_provider_service"}) {
				t.Errorf("%s has no service label", f.GetName())
			}
		}
	}
	want := slices.Sorted(slices.Values(llmprovider.MetricNames))
	if slices.Sort(got); !slices.Equal(got, want) {
		t.Errorf("exported %v\nMetricNames %v", got, want)
	}
}
