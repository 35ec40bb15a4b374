package main

import (
	"fmt"
	"io"
	"math"
	"slices"
	"strings"
)

// Verdicts of a row.
const (
	pass    = "PASS"
	fail    = "FAIL"
	info    = "info"
	missing = "MISSING" // ours was measured, its baseline was not
)

// row is one evaluated check at one GOMAXPROCS.
type row struct {
	Label, Ours, Baseline, Result, Target, Verdict string
	Procs                                          int
}

// evaluate applies every check to res. Checks whose benchmark is absent
// from res are returned by name in notRun.
func evaluate(res results, cs []check) (rows []row, notRun []string) {
	for _, c := range cs {
		ps := res.procs(c.Ours)
		if len(ps) == 0 {
			if !slices.Contains(notRun, c.Ours) {
				notRun = append(notRun, c.Ours)
			}
			continue
		}
		for _, p := range ps {
			rows = append(rows, evaluateOne(res, c, p))
		}
	}
	return rows, notRun
}

func evaluateOne(res results, c check, procs int) row {
	r := row{Label: c.Label, Procs: procs, Target: target(c), Verdict: info}
	applies := c.Kind != ratioInfo && c.Kind != valueInfo
	if c.TargetProcs != 0 && procs != c.TargetProcs {
		r.Target = fmt.Sprintf("(target on %d CPUs)", c.TargetProcs)
		applies = false
	}
	ours, n, _ := res.median(key{c.Ours, procs}, c.Unit)
	if n == 0 {
		r.Ours, r.Result, r.Verdict = "no "+c.Unit, "n/a", missing
		return r
	}
	r.Ours = number(ours) + " " + c.Unit
	baseKey, baseUnit := key{c.Baseline, procs}, c.BaseUnit
	if c.Baseline == "" {
		baseKey.Name = c.Ours
	}
	if baseUnit == "" {
		baseUnit = c.Unit
	}
	if c.Baseline == "" && c.BaseUnit == "" {
		r.Result = r.Ours
		if applies {
			r.Verdict = verdict(ours <= c.Limit)
		}
		return r
	}
	base, bn, _ := res.median(baseKey, baseUnit)
	if bn == 0 {
		r.Baseline, r.Result, r.Verdict = c.BaseName+": not measured", "n/a", missing
		return r
	}
	r.Baseline = fmt.Sprintf("%s %s %s", c.BaseName, number(base), baseUnit)
	var ok bool
	switch c.Kind {
	case diffAtMost:
		d := ours - base
		r.Result = fmt.Sprintf("%+.1f %s", d, c.Unit)
		ok = d <= c.Limit
	default:
		ratio := ours / base
		if c.RatioUnit != "" {
			paired, pn, _ := res.median(key{c.Ours, procs}, c.RatioUnit)
			if pn == 0 {
				r.Result, r.Verdict = "no "+c.RatioUnit, missing
				return r
			}
			ratio = paired
		}
		r.Result = fmt.Sprintf("%.3fx", ratio)
		ok = c.Kind == ratioAtMost && ratio <= c.Limit || c.Kind == ratioAtLeast && ratio >= c.Limit
	}
	if applies {
		r.Verdict = verdict(ok)
	}
	return r
}

func verdict(ok bool) string {
	if ok {
		return pass
	}
	return fail
}

func target(c check) string {
	switch c.Kind {
	case ratioAtMost:
		return fmt.Sprintf("<= %gx", c.Limit)
	case ratioAtLeast:
		return fmt.Sprintf(">= %gx", c.Limit)
	case diffAtMost:
		return fmt.Sprintf("<= +%g %s", c.Limit, c.Unit)
	case valueAtMost:
		return fmt.Sprintf("<= %g %s", c.Limit, c.Unit)
	}
	return "-"
}

// number formats v with precision that suits its size.
func number(v float64) string {
	switch a := math.Abs(v); {
	case a == 0 || a >= 1000:
		return fmt.Sprintf("%.0f", v)
	case a >= 100:
		return fmt.Sprintf("%.1f", v)
	default:
		return fmt.Sprintf("%.2f", v)
	}
}

// writeChecks renders rows as a Markdown table and a summary line.
func writeChecks(w io.Writer, rows []row, notRun []string) {
	t := [][]string{{"check", "CPUs", "ours", "baseline", "result", "target", "verdict"}}
	passed, failed := 0, 0
	for _, r := range rows {
		t = append(t, []string{r.Label, fmt.Sprint(r.Procs), r.Ours, r.Baseline, r.Result, r.Target, r.Verdict})
		switch r.Verdict {
		case pass:
			passed++
		case fail, missing:
			failed++
		}
	}
	writeTable(w, t)
	fmt.Fprintf(w, "\n%d of %d targets met", passed, passed+failed)
	if len(notRun) > 0 {
		fmt.Fprintf(w, "; not measured in this input: %s", strings.Join(notRun, ", "))
	}
	fmt.Fprintln(w)
}

// writeMedians renders every benchmark's medians, one row per benchmark.
func writeMedians(w io.Writer, res results) {
	t := [][]string{{"benchmark", "CPUs", "runs", "medians"}}
	for _, k := range res.keys() {
		units := make([]string, 0, len(res[k]))
		for u := range res[k] {
			units = append(units, u)
		}
		slices.SortFunc(units, func(a, b string) int {
			if d := unitOrder(a) - unitOrder(b); d != 0 {
				return d
			}
			return strings.Compare(a, b)
		})
		var ms []string
		runs := 0
		for _, u := range units {
			v, n, _ := res.median(k, u)
			runs = max(runs, n)
			ms = append(ms, number(v)+" "+u)
		}
		t = append(t, []string{k.Name, fmt.Sprint(k.Procs), fmt.Sprint(runs), strings.Join(ms, ", ")})
	}
	writeTable(w, t)
}

// unitOrder puts the standard units first, in go test's order.
func unitOrder(u string) int {
	switch u {
	case "ns/op":
		return 0
	case "B/op":
		return 1
	case "allocs/op":
		return 2
	}
	return 3
}

// writeTable writes a Markdown table with padded columns, so it reads
// well in a terminal too. The first row is the header.
func writeTable(w io.Writer, t [][]string) {
	width := make([]int, len(t[0]))
	for _, r := range t {
		for i, c := range r {
			width[i] = max(width[i], len([]rune(c)))
		}
	}
	line := func(r []string) {
		var b strings.Builder
		b.WriteString("|")
		for i, c := range r {
			b.WriteString(" " + c + strings.Repeat(" ", width[i]-len([]rune(c))) + " |")
		}
		fmt.Fprintln(w, b.String())
	}
	line(t[0])
	sep := make([]string, len(width))
	for i, n := range width {
		sep[i] = strings.Repeat("-", n)
	}
	line(sep)
	for _, r := range t[1:] {
		line(r)
	}
}
