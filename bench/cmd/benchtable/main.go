// Command benchtable turns `go test -bench` output of the bench module into
// a table: for every target of the project's benchmarks, the median of ours
// and of its baseline from the same run, their ratio (or difference), the
// target and whether it was met; then the medians of every benchmark.
//
//	cd bench
//	go test -run '^$' -bench '^BenchmarkBreaker' -benchmem -cpu 1,2 -count 5 | go run ./cmd/benchtable
//
// Input may hold several runs (-count) and several go test invocations
// concatenated; each metric's median over the runs is used. The table is
// Markdown. With -doc FILE the targets' table, headed by the machine, the
// date and the Go version, also replaces the marked section of FILE
// (docs/benchmarks.md), which scripts/bench.sh does after every full run.
// With -strict the exit status is 1 when a target is missed or its
// baseline is missing.
package main

import (
	"bytes"
	"flag"
	"fmt"
	"io"
	"os"
	"time"
)

func main() {
	strict := flag.Bool("strict", false, "exit with status 1 when a target is not met")
	medians := flag.Bool("medians", true, "also print the medians of every benchmark")
	doc := flag.String("doc", "", "also write the targets' table into the marked section of this Markdown file")
	flag.Parse()
	var table bytes.Buffer
	ok, err := run(os.Stdin, os.Stdout, &table, *medians)
	if err == nil && *doc != "" {
		err = writeDoc(*doc, thisMachine(time.Now()), table.Bytes())
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "benchtable:", err)
		os.Exit(2)
	}
	if *strict && !ok {
		os.Exit(1)
	}
}

// run reads benchmark output from in and writes the tables to out, the
// targets' table also to checksOut. ok is false when a target was missed
// or could not be evaluated.
func run(in io.Reader, out, checksOut io.Writer, medians bool) (ok bool, err error) {
	res, err := parse(in)
	if err != nil {
		return false, err
	}
	if len(res) == 0 {
		return false, fmt.Errorf("no benchmark results in the input")
	}
	rows, notRun := evaluate(res, checks)
	writeChecks(io.MultiWriter(out, checksOut), rows, notRun)
	if medians {
		fmt.Fprintln(out)
		writeMedians(out, res)
	}
	for _, r := range rows {
		if r.Verdict == fail || r.Verdict == missing {
			return false, nil
		}
	}
	return true, nil
}
