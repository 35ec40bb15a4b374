package spool

import (
	"bufio"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/huleedu/huleedu/event"
)

// The crash test: a child process appends from several goroutines and
// drains (Peek, Ack, now and then DeadLetter) at the same time, reporting
// on stdout what it was told. The parent SIGKILLs it at a random moment,
// reopens the spool and checks the delivery contract against the report.
//
// Child output lines (each written with one write(2), so lines from
// different goroutines never interleave):
//
//	A <value>            Append of value returned nil
//	K <value> <value>... about to Ack a batch ending with these values
//	L <value>            about to DeadLetter value
//
// Values are "r<round>g<appender>i<n>".

const (
	crashAppenders = 3
	crashRounds    = 6
)

func crashChild() {
	d, err := OpenDisk(os.Getenv("SPOOL_TEST_DIR"), DiskOptions{SegmentBytes: MinSegmentBytes, Logger: quietLogger})
	if err != nil {
		fmt.Println("ERROR", err)
		return
	}
	round := os.Getenv("SPOOL_TEST_ROUND")
	ctx := context.Background()
	var wg sync.WaitGroup
	for g := range crashAppenders {
		wg.Go(func() {
			for i := 0; ; i++ {
				v := fmt.Sprintf("r%sg%di%d", round, g, i)
				if err := d.Append(ctx, event.Record{Topic: "t", Value: []byte(v)}); err != nil {
					fmt.Println("ERROR", err)
					return
				}
				os.Stdout.WriteString("A " + v + "\n")
			}
		})
	}
	wg.Go(func() {
		for batch := 0; ; batch++ {
			es, err := d.Peek(ctx, 4)
			if err != nil {
				fmt.Println("ERROR", err)
				return
			}
			if len(es) == 0 {
				<-d.Notify()
				continue
			}
			if batch%7 == 3 {
				os.Stdout.WriteString("L " + string(es[0].Value) + "\n")
				if err := d.DeadLetter(es[0], "poison"); err != nil {
					fmt.Println("ERROR", err)
					return
				}
				continue
			}
			var b strings.Builder
			b.WriteString("K")
			for _, e := range es {
				b.WriteString(" " + string(e.Value))
			}
			os.Stdout.WriteString(b.String() + "\n")
			if err := d.Ack(es[len(es)-1].Seq); err != nil {
				fmt.Println("ERROR", err)
				return
			}
		}
	})
	wg.Wait()
}

// crashValue is a parsed child value.
type crashValue struct{ round, g, i int }

func parseCrashValue(t *testing.T, v string) crashValue {
	t.Helper()
	var c crashValue
	if _, err := fmt.Sscanf(v, "r%dg%di%d", &c.round, &c.g, &c.i); err != nil {
		t.Fatalf("bad value %q: %v", v, err)
	}
	return c
}

func (c crashValue) before(o crashValue) bool {
	return c.round < o.round || c.round == o.round && c.i < o.i
}

func TestKilledProcessLosesNoAcceptedRecord(t *testing.T) {
	dir := t.TempDir()
	rng := rand.New(rand.NewPCG(1, 2))
	accepted := map[string]bool{}      // Append returned nil
	acking := map[string]bool{}        // an Ack covering it was started
	deadLettering := map[string]bool{} // a DeadLetter of it was started
	lastAccepted := map[[2]int]int{}
	for round := range crashRounds {
		killAfter := 50 + rng.IntN(1500)
		lines := runCrashChild(t, dir, round, killAfter)
		for _, line := range lines {
			fields := strings.Fields(line)
			switch fields[0] {
			case "A":
				accepted[fields[1]] = true
				c := parseCrashValue(t, fields[1])
				lastAccepted[[2]int{round, c.g}] = c.i
			case "K":
				for _, v := range fields[1:] {
					acking[v] = true
				}
			case "L":
				deadLettering[fields[1]] = true
			case "ERROR":
				t.Fatalf("round %d: child failed: %s", round, line)
			}
		}

		d, err := OpenDisk(dir, DiskOptions{SegmentBytes: MinSegmentBytes, Logger: quietLogger})
		if err != nil {
			t.Fatalf("round %d: reopen: %v", round, err)
		}
		// A crash is no loss: nothing may be reported missing or damaged.
		if s := d.Stats(); s.MissingRecords != 0 || s.Quarantined != 0 {
			t.Fatalf("round %d: reopen after a crash reports %d records missing (%v) and %d ranges quarantined", round, s.MissingRecords, s.Gaps, s.Quarantined)
		}
		es, err := d.Peek(context.Background(), 1<<20)
		if err != nil {
			t.Fatal(err)
		}
		dls, err := d.DeadLetters()
		if err != nil {
			t.Fatal(err)
		}
		if err := d.Close(); err != nil {
			t.Fatal(err)
		}
		dead := map[string]bool{}
		for _, dl := range dls {
			dead[string(dl.Entry.Value)] = true
		}
		present := map[string]bool{}
		last := map[int]crashValue{}
		for _, e := range es {
			v := string(e.Value)
			c := parseCrashValue(t, v)
			if present[v] {
				t.Fatalf("round %d: %s queued twice", round, v)
			}
			present[v] = true
			if p, ok := last[c.g]; ok && !p.before(c) {
				t.Fatalf("round %d: appender %d's %s queued after %s", round, c.g, v, fmt.Sprintf("r%dg%di%d", p.round, p.g, p.i))
			}
			last[c.g] = c
			if !accepted[v] {
				// Only the append in flight when the child died may be
				// stored without having been reported.
				want := 0
				if n, ok := lastAccepted[[2]int{c.round, c.g}]; ok {
					want = n + 1
				}
				if c.i != want {
					t.Fatalf("round %d: %s is queued but was never accepted", round, v)
				}
			}
		}
		for v := range accepted {
			switch {
			case present[v] || acking[v]:
			case deadLettering[v] && !dead[v]:
				t.Fatalf("round %d: %s left the queue but is not in the dead-letter store", round, v)
			case !deadLettering[v]:
				t.Fatalf("round %d: %s was accepted, never acknowledged, and is gone", round, v)
			}
		}
		t.Logf("round %d: killed after %d lines; %d accepted so far, %d queued, %d dead letters",
			round, len(lines), len(accepted), len(es), len(dls))
	}
}

// runCrashChild runs one child round and kills it once it has printed
// killAfter lines; it returns every line the child printed.
func runCrashChild(t *testing.T, dir string, round, killAfter int) []string {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"=crash", "SPOOL_TEST_DIR="+dir, fmt.Sprintf("SPOOL_TEST_ROUND=%d", round))
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var lines []string
	sc := bufio.NewScanner(stdout)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	killed := false
	for sc.Scan() {
		lines = append(lines, sc.Text())
		if !killed && (len(lines) >= killAfter || strings.HasPrefix(sc.Text(), "ERROR")) {
			cmd.Process.Signal(syscall.SIGKILL)
			killed = true
		}
	}
	if !killed {
		cmd.Process.Signal(syscall.SIGKILL)
	}
	cmd.Wait()
	return lines
}
