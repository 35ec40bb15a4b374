package main

import (
	"strings"
	"testing"
)

const sample = `goos: linux
goarch: amd64
pkg: github.com/huleedu/huleedu/bench
cpu: AMD EPYC
BenchmarkBreaker/default/ours             	150000000	         8.000 ns/op	       0 B/op	       0 allocs/op
BenchmarkBreaker/default/ours-2           	150000000	         7.000 ns/op	       0 B/op	       0 allocs/op
BenchmarkBreaker/default/ours-2           	150000000	         9.000 ns/op	       0 B/op	       0 allocs/op
BenchmarkBreaker/default/ours-2           	150000000	         8.000 ns/op	       0 B/op	       0 allocs/op
BenchmarkBreaker/default/gobreaker-2      	 10000000	       120.0 ns/op	       0 B/op	       0 allocs/op
BenchmarkKafkaHealthy-2
    kafka_test.go:12: a log line between the name and the numbers
  100000	     25358 ns/op	         0.9600 ratio	     91268 raw-records/s	     87617 resilient-records/s
PASS
ok  	github.com/huleedu/huleedu/bench	13.513s
`

func TestParseSplitsNameAndProcs(t *testing.T) {
	res, err := parse(strings.NewReader(sample))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		k    key
		unit string
		want []float64
	}{
		{key{"Breaker/default/ours", 1}, "ns/op", []float64{8}},
		{key{"Breaker/default/ours", 2}, "ns/op", []float64{7, 9, 8}},
		{key{"Breaker/default/ours", 2}, "allocs/op", []float64{0, 0, 0}},
		{key{"Breaker/default/gobreaker", 2}, "ns/op", []float64{120}},
	} {
		got := res[tc.k][tc.unit]
		if len(got) != len(tc.want) {
			t.Errorf("%v %s = %v, want %v", tc.k, tc.unit, got, tc.want)
			continue
		}
		for i := range got {
			if got[i] != tc.want[i] {
				t.Errorf("%v %s = %v, want %v", tc.k, tc.unit, got, tc.want)
				break
			}
		}
	}
}

func TestParseJoinsNameWithNumbersPrintedAfterALog(t *testing.T) {
	res, err := parse(strings.NewReader(sample))
	if err != nil {
		t.Fatal(err)
	}
	k := key{"KafkaHealthy", 2}
	if got := res[k]["ratio"]; len(got) != 1 || got[0] != 0.96 {
		t.Fatalf("KafkaHealthy ratio = %v, want [0.96]", got)
	}
	if got := res[k]["raw-records/s"]; len(got) != 1 || got[0] != 91268 {
		t.Fatalf("KafkaHealthy raw-records/s = %v, want [91268]", got)
	}
}

func TestParseIgnoresLinesThatAreNotResults(t *testing.T) {
	res, err := parse(strings.NewReader("PASS\nok  \tx\t1.0s\n--- FAIL: BenchmarkX\nBenchmarkY-2 is not a result\n"))
	if err != nil {
		t.Fatal(err)
	}
	if len(res) != 0 {
		t.Fatalf("parsed %v from lines without results", res)
	}
}

func TestParseRejectsMalformedMetrics(t *testing.T) {
	for _, line := range []string{
		"BenchmarkX-2   100   5 ns/op   7\n",
		"BenchmarkX-2   100   five ns/op\n",
	} {
		if _, err := parse(strings.NewReader(line)); err == nil {
			t.Errorf("parse(%q) succeeded, want an error", line)
		}
	}
}

func TestMedianOfOddAndEvenSampleCounts(t *testing.T) {
	res := results{}
	k := key{"X", 1}
	res[k] = map[string][]float64{"odd": {9, 1, 5}, "even": {4, 1, 3, 100}}
	for unit, want := range map[string]float64{"odd": 5, "even": 3.5} {
		if got, _, _ := res.median(k, unit); got != want {
			t.Errorf("median of %v = %v, want %v", res[k][unit], got, want)
		}
	}
	if _, _, ok := res.median(k, "absent"); ok {
		t.Error("median of an absent unit reported ok")
	}
}
