package main

import (
	"bytes"
	"fmt"
	"os"
	"runtime"
	"strings"
	"time"
)

// The markers between which -doc writes the table. Everything else in the
// file (the analysis, the history) is left as it is.
const (
	docBegin = "<!-- benchtable:begin (written by scripts/bench.sh; do not edit by hand) -->"
	docEnd   = "<!-- benchtable:end -->"
)

// machine describes where the benchmarks ran, for the table's heading.
type machine struct {
	When      time.Time
	GoVersion string
	CPU       string // model name
	CPUs      int
	Kernel    string
}

// thisMachine reads the machine benchtable runs on, which is the machine
// scripts/bench.sh ran the benchmarks on just before.
func thisMachine(now time.Time) machine {
	m := machine{When: now.UTC(), GoVersion: runtime.Version(), CPUs: runtime.NumCPU(), CPU: "unknown CPU", Kernel: runtime.GOOS}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for line := range strings.Lines(string(b)) {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				m.CPU = strings.TrimSpace(v)
				break
			}
		}
	}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.Kernel = runtime.GOOS + " " + strings.TrimSpace(string(b))
	}
	return m
}

// heading is the line above the table.
func (m machine) heading() string {
	return fmt.Sprintf("Measured %s on %d × %s, %s, %s (`scripts/bench.sh`).",
		m.When.Format("2006-01-02 15:04 MST"), m.CPUs, m.CPU, m.Kernel, m.GoVersion)
}

// writeDoc replaces what stands between the markers in the file at path
// with the heading and table. The file must already hold both markers,
// so a typo in the path cannot create a stray file.
func writeDoc(path string, m machine, table []byte) error {
	old, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("-doc %s: %w", path, err)
	}
	begin := bytes.Index(old, []byte(docBegin))
	end := bytes.Index(old, []byte(docEnd))
	if begin < 0 || end < begin {
		return fmt.Errorf("-doc %s: the file has no %q ... %q section to write the table into", path, docBegin, docEnd)
	}
	var b bytes.Buffer
	b.Write(old[:begin+len(docBegin)])
	b.WriteString("\n\n" + m.heading() + "\n\n")
	b.Write(bytes.TrimSpace(table))
	b.WriteString("\n\n")
	b.Write(old[end:])
	return os.WriteFile(path, b.Bytes(), 0o644)
}
