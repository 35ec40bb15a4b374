package main

import (
	"bytes"
	"io"
	"strings"
	"testing"
)

func TestEvaluateVerdicts(t *testing.T) {
	res := results{
		{"Ours", 2}:     {"ns/op": {8, 9, 10}, "allocs/op": {0}},
		{"Ours", 1}:     {"ns/op": {50}},
		{"Base", 2}:     {"ns/op": {100, 120, 110}},
		{"Base", 1}:     {"ns/op": {100}},
		{"Extra", 2}:    {"ns/op": {16}},
		{"Paired", 2}:   {"ours-records/s": {90}, "raw-records/s": {100}, "ratio": {0.97, 0.96, 0.5}},
		{"Latency", 2}:  {"p99-µs": {2500}},
		{"NoBase", 2}:   {"ns/op": {1}},
		{"NoRatio", 2}:  {"a": {1}, "b": {2}},
		{"Absolute", 2}: {"MiB": {80}},
	}
	tests := []struct {
		name  string
		c     check
		procs int
		want  string
	}{
		{"ratio at most, met", check{Ours: "Ours", Baseline: "Base", Unit: "ns/op", Kind: ratioAtMost, Limit: 0.1}, 2, pass},
		{"ratio at most, missed", check{Ours: "Ours", Baseline: "Base", Unit: "ns/op", Kind: ratioAtMost, Limit: 0.05}, 2, fail},
		{"target on other procs is info", check{Ours: "Ours", Baseline: "Base", Unit: "ns/op", Kind: ratioAtMost, Limit: 0.1, TargetProcs: 2}, 1, info},
		{"difference at most, missed", check{Ours: "Extra", Baseline: "Ours", Unit: "ns/op", Kind: diffAtMost, Limit: 5}, 2, fail},
		{"paired ratio median, met", check{Ours: "Paired", Unit: "ours-records/s", BaseUnit: "raw-records/s", RatioUnit: "ratio", Kind: ratioAtLeast, Limit: 0.95}, 2, pass},
		{"value at most, missed", check{Ours: "Latency", Unit: "p99-µs", Kind: valueAtMost, Limit: 2000}, 2, fail},
		{"value at most, met", check{Ours: "Absolute", Unit: "MiB", Kind: valueAtMost, Limit: 100}, 2, pass},
		{"allocs zero, met", check{Ours: "Ours", Unit: "allocs/op", Kind: valueAtMost, Limit: 0}, 2, pass},
		{"ratio without target is info", check{Ours: "Ours", Baseline: "Base", Unit: "ns/op", Kind: ratioInfo}, 2, info},
		{"baseline not measured", check{Ours: "NoBase", Baseline: "Absent", Unit: "ns/op", Kind: ratioAtMost, Limit: 1}, 2, missing},
		{"paired ratio not reported", check{Ours: "NoRatio", Unit: "a", BaseUnit: "b", RatioUnit: "ratio", Kind: ratioAtLeast, Limit: 0.5}, 2, missing},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := evaluateOne(res, tc.c, tc.procs); got.Verdict != tc.want {
				t.Fatalf("verdict %s (%+v), want %s", got.Verdict, got, tc.want)
			}
		})
	}
}

func TestEvaluateListsChecksWhoseBenchmarkDidNotRun(t *testing.T) {
	res := results{{"Ours", 2}: {"ns/op": {1}}}
	rows, notRun := evaluate(res, []check{
		{Ours: "Ours", Unit: "ns/op", Kind: valueInfo},
		{Ours: "Skipped", Unit: "MiB", Kind: valueAtMost, Limit: 100},
		{Ours: "Skipped", Unit: "other", Kind: valueAtMost, Limit: 100},
	})
	if len(rows) != 1 || len(notRun) != 1 || notRun[0] != "Skipped" {
		t.Fatalf("rows %+v, not run %v; want one row and [Skipped]", rows, notRun)
	}
}

func TestRunFailsWhenATargetIsMissed(t *testing.T) {
	in := "BenchmarkBreaker/default/ours-2 100 50 ns/op 0 B/op 0 allocs/op\n" +
		"BenchmarkBreaker/default/gobreaker-2 100 100 ns/op 0 B/op 0 allocs/op\n"
	var out bytes.Buffer
	ok, err := run(strings.NewReader(in), &out, io.Discard, false)
	if err != nil {
		t.Fatal(err)
	}
	if ok {
		t.Fatalf("run reported success for 0.5x against a target of 0.1x:\n%s", out.String())
	}
	if !strings.Contains(out.String(), "| FAIL") || !strings.Contains(out.String(), "0.500x") {
		t.Fatalf("table does not show the failed ratio:\n%s", out.String())
	}
}

func TestRunRejectsInputWithoutResults(t *testing.T) {
	if _, err := run(strings.NewReader("PASS\n"), &bytes.Buffer{}, io.Discard, true); err == nil {
		t.Fatal("run succeeded on input without benchmark results")
	}
}
