package drill

import (
	"math"
	"slices"
	"time"
)

// ms converts a duration to fractional milliseconds.
func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// percentile returns the q-quantile (0 < q <= 1) of sorted by the
// nearest-rank method: the smallest value with at least q of the values at
// or below it.
func percentile(sorted []time.Duration, q float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(math.Ceil(q*float64(len(sorted)))) - 1
	return sorted[min(max(i, 0), len(sorted)-1)]
}

// summarizeLatency returns the percentiles of lat in milliseconds.
func summarizeLatency(lat []time.Duration) Latency {
	sorted := slices.Clone(lat)
	slices.Sort(sorted)
	if len(sorted) == 0 {
		return Latency{}
	}
	return Latency{
		P50:  round3(ms(percentile(sorted, 0.50))),
		P99:  round3(ms(percentile(sorted, 0.99))),
		P999: round3(ms(percentile(sorted, 0.999))),
		Max:  round3(ms(sorted[len(sorted)-1])),
	}
}

func round3(v float64) float64 { return math.Round(v*1000) / 1000 }

// latencyBuckets groups latencies by when the call returned into buckets
// of width, covering [0, end).
func latencyBuckets(lat, doneAt []time.Duration, width, end time.Duration) []LatencyBucket {
	if width <= 0 || end <= 0 {
		return nil
	}
	n := int((end + width - 1) / width)
	groups := make([][]time.Duration, n)
	for i, l := range lat {
		b := int(doneAt[i] / width)
		if b >= 0 && b < n {
			groups[b] = append(groups[b], l)
		}
	}
	out := make([]LatencyBucket, n)
	for i, g := range groups {
		slices.Sort(g)
		out[i] = LatencyBucket{AtMs: (time.Duration(i) * width).Milliseconds(), WidthMs: width.Milliseconds(), Count: len(g)}
		if len(g) > 0 {
			out[i].P50 = round3(ms(percentile(g, 0.50)))
			out[i].P99 = round3(ms(percentile(g, 0.99)))
			out[i].Max = round3(ms(g[len(g)-1]))
		}
	}
	return out
}

// bucketWidth is the latency chart's resolution: about 30 buckets over the
// workload, between 100 ms and 5 s wide.
func bucketWidth(d time.Duration) time.Duration {
	return min(max(d/30, 100*time.Millisecond), 5*time.Second).Round(100 * time.Millisecond)
}

// outageWindow is one outage as it really happened.
type outageWindow struct {
	faultAt, healedAt time.Duration
	nextFaultAt       time.Duration // the next outage's fault, or forever
}

// analyzeOutage measures time to open and time to drain for one outage:
//
//   - time to open: from the fault's start to the first transition to open
//     at or after it, before the next outage's fault; null if none.
//   - time to drain: from the fault's end to the moment the queue was empty
//     for good: the first sample with an empty queue after the last sample
//     (before the next outage) that held records. Null if no sample held
//     records or the queue never emptied. Records can still arrive in the
//     queue just after the heal (calls that were waiting on the fault time
//     out then), which is why it is not simply the first empty sample.
//     Resolution: the 100 ms sampler.
func analyzeOutage(w outageWindow, transitions []Transition, samples []Sample) (open, drain *int64, maxDepth int64) {
	for _, t := range transitions {
		at := time.Duration(t.AtMs) * time.Millisecond
		if t.To == "open" && at >= w.faultAt.Truncate(time.Millisecond) && at < w.nextFaultAt {
			v := (at - w.faultAt).Milliseconds()
			open = &v
			break
		}
	}
	var window []Sample
	for _, s := range samples {
		at := time.Duration(s.AtMs) * time.Millisecond
		if at >= w.faultAt.Truncate(time.Millisecond) && at < w.nextFaultAt {
			window = append(window, s)
		}
	}
	lastBusy := -1
	for i, s := range window {
		maxDepth = max(maxDepth, s.Depth)
		if s.Depth > 0 {
			lastBusy = i
		}
	}
	if lastBusy >= 0 && lastBusy+1 < len(window) {
		at := time.Duration(window[lastBusy+1].AtMs) * time.Millisecond
		v := max((at - w.healedAt).Milliseconds(), 0)
		drain = &v
	}
	return open, drain, maxDepth
}
