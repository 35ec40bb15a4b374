package main

import (
	"bufio"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// key identifies one benchmark at one GOMAXPROCS: go test appends "-N" to
// the name when N != 1.
type key struct {
	Name  string // without the "Benchmark" prefix and the -N suffix
	Procs int
}

// results holds every sample of every metric: results[key][unit] lists the
// values of the runs (-count) in input order.
type results map[key]map[string][]float64

var (
	// A result line: name, iterations, then value/unit pairs.
	resultLine = regexp.MustCompile(`^Benchmark(\S+)\s+(\d+)\s+(.*)$`)
	// The name alone on its line: go test prints it first when the
	// benchmark writes output before its result; the numbers follow on a
	// line of their own.
	nameLine  = regexp.MustCompile(`^Benchmark(\S+)\s*$`)
	valueLine = regexp.MustCompile(`^\s+(\d+)\s+(\S+\s+\S+.*)$`)
	procsTail = regexp.MustCompile(`^(.*)-(\d+)$`)
)

// parse reads go test -bench output and collects the samples. Lines that
// are not results (logs, PASS, ok ...) are skipped.
func parse(r io.Reader) (results, error) {
	res := results{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64*1024), 1024*1024)
	pending := ""
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		var name, metrics string
		switch {
		case resultLine.MatchString(line):
			m := resultLine.FindStringSubmatch(line)
			name, metrics = m[1], m[3]
			pending = ""
		case nameLine.MatchString(line):
			pending = nameLine.FindStringSubmatch(line)[1]
			continue
		case pending != "" && valueLine.MatchString(line):
			m := valueLine.FindStringSubmatch(line)
			name, metrics = pending, m[2]
			pending = ""
		default:
			continue
		}
		if err := res.add(name, metrics); err != nil {
			return nil, fmt.Errorf("line %d: %w", n, err)
		}
	}
	return res, sc.Err()
}

func (res results) add(name, metrics string) error {
	k := key{Name: name, Procs: 1}
	if m := procsTail.FindStringSubmatch(name); m != nil {
		p, err := strconv.Atoi(m[2])
		if err == nil {
			k = key{Name: m[1], Procs: p}
		}
	}
	f := strings.Fields(metrics)
	if len(f)%2 != 0 {
		return fmt.Errorf("benchmark %s: odd number of value/unit fields in %q", name, metrics)
	}
	if res[k] == nil {
		res[k] = map[string][]float64{}
	}
	for i := 0; i < len(f); i += 2 {
		v, err := strconv.ParseFloat(f[i], 64)
		if err != nil {
			return fmt.Errorf("benchmark %s: value %q of %s: %w", name, f[i], f[i+1], err)
		}
		res[k][f[i+1]] = append(res[k][f[i+1]], v)
	}
	return nil
}

// median returns the median sample of k's unit and how many samples there
// were; ok is false when there are none.
func (res results) median(k key, unit string) (v float64, n int, ok bool) {
	s := res[k][unit]
	if len(s) == 0 {
		return 0, 0, false
	}
	s = slices.Clone(s)
	slices.Sort(s)
	mid := len(s) / 2
	if len(s)%2 == 1 {
		return s[mid], len(s), true
	}
	return (s[mid-1] + s[mid]) / 2, len(s), true
}

// procs lists the GOMAXPROCS values name was run with, ascending.
func (res results) procs(name string) []int {
	var ps []int
	for k := range res {
		if k.Name == name {
			ps = append(ps, k.Procs)
		}
	}
	slices.Sort(ps)
	return ps
}

// keys returns every benchmark in a stable order: by name, then procs.
func (res results) keys() []key {
	ks := make([]key, 0, len(res))
	for k := range res {
		ks = append(ks, k)
	}
	slices.SortFunc(ks, func(a, b key) int {
		if c := strings.Compare(a.Name, b.Name); c != 0 {
			return c
		}
		return a.Procs - b.Procs
	})
	return ks
}
