package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestWriteDocReplacesOnlyTheMarkedSection(t *testing.T) {
	path := filepath.Join(t.TempDir(), "benchmarks.md")
	before := "# Benchmarks\n\nintro\n\n" + docBegin + "\n\nold table\n\n" + docEnd + "\n\n## Analysis\n\nkept\n"
	if err := os.WriteFile(path, []byte(before), 0o644); err != nil {
		t.Fatal(err)
	}
	m := machine{When: time.Date(2026, 12, 4, 10, 30, 0, 0, time.UTC), GoVersion: "go1.26.8", CPU: "Test CPU", CPUs: 2, Kernel: "linux 6.1"}
	if err := writeDoc(path, m, []byte("| check |\n| --- |\n| row |\n\n1 of 1 targets met\n")); err != nil {
		t.Fatal(err)
	}
	got, _ := os.ReadFile(path)
	want := "# Benchmarks\n\nintro\n\n" + docBegin + "\n\nMeasured 2026-12-04 10:30 UTC on 2 × Test CPU, linux 6.1, go1.26.8 (`scripts/bench.sh`).\n\n" +
		"| check |\n| --- |\n| row |\n\n1 of 1 targets met\n\n" + docEnd + "\n\n## Analysis\n\nkept\n"
	if string(got) != want {
		t.Fatalf("file after writeDoc:\n%s\nwant:\n%s", got, want)
	}
}

func TestWriteDocRefusesAFileWithoutMarkers(t *testing.T) {
	path := filepath.Join(t.TempDir(), "README.md")
	if err := os.WriteFile(path, []byte("# no markers\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	err := writeDoc(path, machine{}, []byte("| t |"))
	if err == nil || !strings.Contains(err.Error(), "has no") {
		t.Fatalf("writeDoc = %v, want an error saying the section is missing", err)
	}
	if got, _ := os.ReadFile(path); string(got) != "# no markers\n" {
		t.Fatalf("file changed to %q", got)
	}
}
