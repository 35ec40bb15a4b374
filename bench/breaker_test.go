package bench

import (
	"context"
	"testing"
	"time"

	"github.com/failsafe-go/failsafe-go"
	"github.com/failsafe-go/failsafe-go/circuitbreaker"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/sony/gobreaker/v2"

	"github.com/huleedu/huleedu/observability"
	"github.com/huleedu/huleedu/resilience"
)

// The breaker group: the closed-path cost of a call through resilience,
// sony/gobreaker v2 and failsafe-go, every call succeeding. Sub-benchmark
// names are <config>/<library>; cmd/benchtable divides ours by the others.
// collector/ours runs right after default/ours, its baseline, so that the
// small difference between them is not drowned by drift in the load of a
// shared machine.
//
//	default    each library's defaults
//	window     a 50% failure-rate policy over the last 100 calls:
//	           resilience count-based window (FailureRateThreshold 50,
//	           WindowSize 100); failsafe-go WithFailureThresholdRatio(50, 100),
//	           its count-based ratio; gobreaker has no count-based window, so
//	           its closest equivalent is its rolling window (Interval 60s in
//	           1s buckets, v2's BucketPeriod) with a ReadyToTrip of >= 100
//	           requests and >= 50% failures
//	collector  resilience defaults, the breaker in a resilience.Registry read
//	           by observability's BreakerCollector on a prometheus.Registry
//	           that is scraped every 100ms while the benchmark runs

// errNil stays nil. The succeed functions return it from functions the
// compiler may not inline, so the call through each breaker cannot be
// optimised away: every library must really call fn and check its error.
// Each library gets the same work in its fn, one direct call of a function
// that returns errNil, in the shape its API takes: ours takes the context
// as fn's argument, gobreaker's Execute and failsafe-go's Run take
// functions without one. (Wrapping succeed in a closure for the two
// others, as this file once did, gave them an extra call ours did not
// pay.)
var errNil error

//go:noinline
func succeed(context.Context) error { return errNil }

//go:noinline
func succeedGobreaker() (struct{}, error) { return struct{}{}, errNil }

//go:noinline
func succeedFailsafe() error { return errNil }

func newOurs(b *testing.B, s resilience.Settings) *resilience.CircuitBreaker {
	b.Helper()
	s.Name = "bench"
	cb, err := resilience.NewCircuitBreaker(s)
	if err != nil {
		b.Fatal(err)
	}
	return cb
}

func newGobreaker(window bool) *gobreaker.CircuitBreaker[struct{}] {
	s := gobreaker.Settings{Name: "bench"}
	if window {
		s.Interval = 60 * time.Second
		s.BucketPeriod = time.Second
		s.ReadyToTrip = func(c gobreaker.Counts) bool {
			return c.Requests >= 100 && 2*c.TotalFailures >= c.Requests
		}
	}
	return gobreaker.NewCircuitBreaker[struct{}](s)
}

func newFailsafe(window bool) failsafe.Executor[any] {
	var cb circuitbreaker.CircuitBreaker[any]
	if window {
		cb = circuitbreaker.NewBuilder[any]().WithFailureThresholdRatio(50, 100).Build()
	} else {
		cb = circuitbreaker.NewWithDefaults[any]()
	}
	return failsafe.With[any](cb).WithContext(context.Background())
}

// newCollected returns a default breaker exported by a BreakerCollector and
// starts a scraper; the returned function stops it and checks that the
// collector saw at least the calls made.
func newCollected(b *testing.B) (*resilience.CircuitBreaker, func(calls int)) {
	b.Helper()
	breakers := resilience.NewRegistry(resilience.Settings{})
	cb, err := breakers.Create(resilience.Settings{Name: "bench"})
	if err != nil {
		b.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(observability.NewBreakerCollector("bench", breakers))

	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(100 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-t.C:
				if _, err := reg.Gather(); err != nil {
					b.Error(err)
					return
				}
			}
		}
	}()
	return cb, func(calls int) {
		b.StopTimer()
		close(stop)
		<-done
		if got := scrapedSuccesses(b, reg); got < float64(calls) {
			b.Fatalf("collector exported %v successful calls, want >= %d", got, calls)
		}
	}
}

// scrapedSuccesses reads circuit_breaker_calls_total{result="success"}.
func scrapedSuccesses(b *testing.B, reg *prometheus.Registry) float64 {
	b.Helper()
	families, err := reg.Gather()
	if err != nil {
		b.Fatal(err)
	}
	for _, f := range families {
		if f.GetName() != "circuit_breaker_calls_total" {
			continue
		}
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "result" && l.GetValue() == "success" {
					return m.GetCounter().GetValue()
				}
			}
		}
	}
	b.Fatal("circuit_breaker_calls_total{result=\"success\"} not exported")
	return 0
}

var windowSettings = resilience.Settings{FailureRateThreshold: 50, WindowSize: 100}

func BenchmarkBreaker(b *testing.B) {
	b.Run("default/ours", func(b *testing.B) { serialOurs(b, newOurs(b, resilience.Settings{})) })
	b.Run("collector/ours", func(b *testing.B) {
		cb, check := newCollected(b)
		serialOurs(b, cb)
		check(b.N)
	})
	b.Run("default/gobreaker", func(b *testing.B) { serialGobreaker(b, newGobreaker(false)) })
	b.Run("default/failsafe", func(b *testing.B) { serialFailsafe(b, newFailsafe(false)) })
	b.Run("window/ours", func(b *testing.B) { serialOurs(b, newOurs(b, windowSettings)) })
	b.Run("window/gobreaker", func(b *testing.B) { serialGobreaker(b, newGobreaker(true)) })
	b.Run("window/failsafe", func(b *testing.B) { serialFailsafe(b, newFailsafe(true)) })
}

func BenchmarkBreakerParallel(b *testing.B) {
	b.Run("default/ours", func(b *testing.B) { parallelOurs(b, newOurs(b, resilience.Settings{})) })
	b.Run("collector/ours", func(b *testing.B) {
		cb, check := newCollected(b)
		parallelOurs(b, cb)
		check(b.N)
	})
	b.Run("default/gobreaker", func(b *testing.B) { parallelGobreaker(b, newGobreaker(false)) })
	b.Run("default/failsafe", func(b *testing.B) { parallelFailsafe(b, newFailsafe(false)) })
	b.Run("window/ours", func(b *testing.B) { parallelOurs(b, newOurs(b, windowSettings)) })
	b.Run("window/gobreaker", func(b *testing.B) { parallelGobreaker(b, newGobreaker(true)) })
	b.Run("window/failsafe", func(b *testing.B) { parallelFailsafe(b, newFailsafe(true)) })
}

// BenchmarkBreakerPaired runs ours and gobreaker's default closed path in
// alternating batches within each run and reports both costs and their
// ratio (ours/gobreaker) from that run. BenchmarkBreaker measures the two
// one after the other, seconds apart, and the load of a shared machine
// drifts in between; here it weighs on both alike. One iteration is one
// call through each breaker, so ns/op is their sum.
func BenchmarkBreakerPaired(b *testing.B) {
	b.Run("default", func(b *testing.B) {
		ours := newOurs(b, resilience.Settings{})
		gb := newGobreaker(false)
		const batch = 10_000
		var tOurs, tBase time.Duration
		b.ReportAllocs()
		b.ResetTimer()
		for r, done := 0, 0; done < b.N; r, done = r+1, done+batch {
			k := min(batch, b.N-done)
			if r%2 == 0 {
				tOurs += timeOurs(b, ours, k)
				tBase += timeGobreaker(b, gb, k)
			} else {
				tBase += timeGobreaker(b, gb, k)
				tOurs += timeOurs(b, ours, k)
			}
		}
		b.ReportMetric(float64(tOurs.Nanoseconds())/float64(b.N), "ours-ns/op")
		b.ReportMetric(float64(tBase.Nanoseconds())/float64(b.N), "gobreaker-ns/op")
		b.ReportMetric(tOurs.Seconds()/tBase.Seconds(), "ratio")
	})
}

func timeOurs(b *testing.B, cb *resilience.CircuitBreaker, n int) time.Duration {
	ctx := context.Background()
	start := time.Now()
	for range n {
		if err := cb.Call(ctx, succeed); err != nil {
			b.Fatal(err)
		}
	}
	return time.Since(start)
}

func timeGobreaker(b *testing.B, cb *gobreaker.CircuitBreaker[struct{}], n int) time.Duration {
	fn := succeedGobreaker
	start := time.Now()
	for range n {
		if _, err := cb.Execute(fn); err != nil {
			b.Fatal(err)
		}
	}
	return time.Since(start)
}

// The loops below are written out per library rather than behind a shared
// func value, so that no library pays for an extra indirect call.

func serialOurs(b *testing.B, cb *resilience.CircuitBreaker) {
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		if err := cb.Call(ctx, succeed); err != nil {
			b.Fatal(err)
		}
	}
}

func parallelOurs(b *testing.B, cb *resilience.CircuitBreaker) {
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if err := cb.Call(ctx, succeed); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

func serialGobreaker(b *testing.B, cb *gobreaker.CircuitBreaker[struct{}]) {
	fn := succeedGobreaker
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		if _, err := cb.Execute(fn); err != nil {
			b.Fatal(err)
		}
	}
}

func parallelGobreaker(b *testing.B, cb *gobreaker.CircuitBreaker[struct{}]) {
	fn := succeedGobreaker
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := cb.Execute(fn); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

func serialFailsafe(b *testing.B, ex failsafe.Executor[any]) {
	fn := succeedFailsafe
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		if err := ex.Run(fn); err != nil {
			b.Fatal(err)
		}
	}
}

func parallelFailsafe(b *testing.B, ex failsafe.Executor[any]) {
	fn := succeedFailsafe
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if err := ex.Run(fn); err != nil {
				b.Error(err)
				return
			}
		}
	})
}
