package kafkabus

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/huleedu/huleedu/embeddedkafka"
	"github.com/huleedu/huleedu/event"
	"github.com/huleedu/huleedu/internal/testwait"
	"github.com/huleedu/huleedu/resilience"
	"github.com/huleedu/huleedu/spool"
)

// The crash tests run a publisher in a child process (this test binary,
// re-executed into TestCrashChild) with a disk spool, SIGKILL it at a chosen
// moment, then start a second child on the same spool that drains it. Every
// record the first child was told was accepted must reach Kafka.

const crashEnv = "HULEEDU_CRASH_CHILD"

// TestCrashChild is the child process; it does nothing in a normal run.
func TestCrashChild(t *testing.T) {
	mode := os.Getenv(crashEnv)
	if mode == "" {
		t.Skip("only runs as the child of a crash test")
	}
	timeout, _ := time.ParseDuration(os.Getenv("CRASH_TIMEOUT"))
	q, err := spool.OpenDisk(os.Getenv("CRASH_DIR"), spool.DiskOptions{})
	if err != nil {
		fmt.Println("ERR", err)
		os.Exit(3)
	}
	kb, err := NewKafkaBus(Options{Brokers: strings.Split(os.Getenv("CRASH_BROKERS"), ","), PublishTimeout: timeout})
	if err != nil {
		fmt.Println("ERR", err)
		os.Exit(3)
	}
	cb, _ := resilience.NewCircuitBreaker(resilience.Settings{Name: "crash", FailureThreshold: 2, RecoveryTimeout: 100 * time.Millisecond, SuccessThreshold: 1})
	bus, err := NewResilientBus(kb, ResilientOptions{Breaker: cb, Queue: q, RetryMin: 10 * time.Millisecond, OpenPoll: 20 * time.Millisecond})
	if err != nil {
		fmt.Println("ERR", err)
		os.Exit(3)
	}
	go func() { // progress for the parent
		for {
			st := bus.Stats()
			fmt.Printf("S %d %d\n", st.Replayed, st.Queue.Records)
			time.Sleep(5 * time.Millisecond)
		}
	}()
	switch mode {
	case "publish-held":
		// Connect and learn metadata first, then hold the breaker open so
		// records pile up in the spool over warm connections, until the
		// parent says "reset".
		if err := bus.PublishRecord(context.Background(), event.Record{Topic: kt, Key: []byte("k"), Value: []byte("warm-up")}); err != nil {
			fmt.Println("ERR", err)
			os.Exit(3)
		}
		cb.ForceOpen()
		go func() {
			sc := bufio.NewScanner(os.Stdin)
			for sc.Scan() {
				if sc.Text() == "reset" {
					cb.Reset()
				}
			}
		}()
		fallthrough
	case "publish":
		for i := 0; ; i++ {
			v := fmt.Sprintf("v%07d", i)
			if bus.PublishRecord(context.Background(), event.Record{Topic: kt, Key: []byte("k"), Value: []byte(v)}) == nil {
				fmt.Println("A", v)
			}
		}
	case "drain":
		testwait.For(t, time.Minute, "the spool to drain", func() bool { return bus.Stats().Queue.Records == 0 })
		if err := bus.Close(context.Background()); err != nil {
			fmt.Println("ERR", err)
			os.Exit(3)
		}
		fmt.Println("DRAINED")
		os.Exit(0)
	}
}

// crashChild is a running child process and what it reported.
type crashChild struct {
	cmd      *exec.Cmd
	stdin    io.Writer
	mu       sync.Mutex
	accepted []string
	replayed int
	queued   int
	lines    chan string
	done     chan struct{}
}

func startCrashChild(t *testing.T, mode, dir string, c *embeddedkafka.Cluster, timeout time.Duration) *crashChild {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestCrashChild$")
	cmd.Env = append(os.Environ(), crashEnv+"="+mode, "CRASH_DIR="+dir,
		"CRASH_BROKERS="+strings.Join(c.Addrs(), ","), "CRASH_TIMEOUT="+timeout.String())
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	in, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	ch := &crashChild{cmd: cmd, stdin: in, lines: make(chan string, 16), done: make(chan struct{})}
	go func() {
		defer close(ch.done)
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			f := strings.Fields(sc.Text())
			if len(f) == 0 {
				continue
			}
			ch.mu.Lock()
			switch f[0] {
			case "A":
				ch.accepted = append(ch.accepted, f[1])
			case "S":
				ch.replayed, _ = strconv.Atoi(f[1])
				ch.queued, _ = strconv.Atoi(f[2])
			default:
				select {
				case ch.lines <- sc.Text():
				default:
				}
			}
			ch.mu.Unlock()
		}
	}()
	t.Cleanup(func() { _ = cmd.Process.Kill(); <-ch.done; _ = cmd.Wait() })
	return ch
}

func (ch *crashChild) state() (accepted, replayed, queued int) {
	ch.mu.Lock()
	defer ch.mu.Unlock()
	return len(ch.accepted), ch.replayed, ch.queued
}

// kill sends SIGKILL and returns everything the child reported accepted.
func (ch *crashChild) kill(t *testing.T) []string {
	t.Helper()
	if err := ch.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-ch.done
	_ = ch.cmd.Wait()
	ch.mu.Lock()
	defer ch.mu.Unlock()
	return append([]string(nil), ch.accepted...)
}

func (ch *crashChild) waitFor(t *testing.T, what string, cond func(accepted, replayed, queued int) bool) {
	t.Helper()
	eventually(t, what, func() bool { return cond(ch.state()) })
}

// drainAfterCrash starts a second child on dir and waits until it has
// emptied the spool.
func drainAfterCrash(t *testing.T, dir string, c *embeddedkafka.Cluster) {
	t.Helper()
	ch := startCrashChild(t, "drain", dir, c, 2*time.Second)
	select {
	case line := <-ch.lines:
		if line != "DRAINED" {
			t.Fatalf("drain child: %s", line)
		}
	case <-time.After(60 * time.Second):
		t.Fatal("drain child did not finish")
	}
}

// publishIntoOutage starts a cluster with its brokers cut and a child that
// publishes into a disk spool in a new directory as fast as it can.
func publishIntoOutage(t *testing.T) (*embeddedkafka.Cluster, string, *crashChild) {
	t.Helper()
	c := embeddedkafka.NewTestCluster(t, embeddedkafka.Config{Topics: []string{kt}})
	dir := t.TempDir()
	if err := c.Fault(embeddedkafka.FaultCut); err != nil {
		t.Fatal(err)
	}
	return c, dir, startCrashChild(t, "publish", dir, c, 300*time.Millisecond)
}

func TestCrashDuringAppendLosesNothingAccepted(t *testing.T) {
	c, dir, ch := publishIntoOutage(t)
	ch.waitFor(t, "500 records spooled", func(a, _, _ int) bool { return a >= 500 })
	accepted := ch.kill(t) // mid-append: the child appends as fast as it can
	if err := c.Heal(); err != nil {
		t.Fatal(err)
	}
	drainAfterCrash(t, dir, c)
	checkDelivery(t, [][]string{accepted}, readValues(t, c))
}

func TestCrashDuringReplayLosesNothingAccepted(t *testing.T) {
	c, dir, ch := publishIntoOutage(t)
	ch.waitFor(t, "3000 records spooled", func(a, _, _ int) bool { return a >= 3000 })
	if err := c.Heal(); err != nil {
		t.Fatal(err)
	}
	ch.waitFor(t, "replay under way", func(_, r, q int) bool { return r > 0 && q > 0 })
	accepted := ch.kill(t)
	drainAfterCrash(t, dir, c)
	checkDelivery(t, [][]string{accepted}, readValues(t, c))
}

// Kafka has written the replayed record but the child dies before the
// answer arrives, so the spool never acknowledged it: the next process
// sends it again. A duplicate, not a loss.
func TestCrashBetweenProduceAndAckDuplicatesNotLoses(t *testing.T) {
	c := embeddedkafka.NewTestCluster(t, embeddedkafka.Config{Topics: []string{kt}})
	dir := t.TempDir()
	ch := startCrashChild(t, "publish-held", dir, c, 20*time.Second)
	ch.waitFor(t, "records spooled", func(a, _, _ int) bool { return a >= 100 })
	// Every answer now takes a second: the kill below lands in the second
	// between Kafka writing the replayed records and the child hearing of it.
	if err := c.Fault(embeddedkafka.FaultSlow, embeddedkafka.WithDelay(time.Second)); err != nil {
		t.Fatal(err)
	}
	if _, err := io.WriteString(ch.stdin, "reset\n"); err != nil {
		t.Fatal(err)
	}
	// (Asked of kfake in-process: every client connection is slowed.)
	eventually(t, "a replayed record written", func() bool {
		for _, p := range c.Kfake().PartitionInfos(kt) {
			if p.HighWatermark > 1 { // more than the warm-up record
				return true
			}
		}
		return false
	})
	_, replayed, _ := ch.state()
	accepted := ch.kill(t)
	if replayed != 0 {
		t.Fatalf("the child acknowledged %d records: the kill was not between produce and ack", replayed)
	}
	if err := c.Heal(); err != nil {
		t.Fatal(err)
	}
	drainAfterCrash(t, dir, c)
	delivered := slices.DeleteFunc(readValues(t, c), func(v string) bool { return v == "warm-up" })
	checkDelivery(t, [][]string{accepted}, delivered)
	seen := map[string]bool{}
	dups := 0
	for _, v := range delivered {
		if seen[v] {
			dups++
		}
		seen[v] = true
	}
	if dups == 0 {
		t.Fatal("no duplicate: the record written before the kill was not replayed")
	}
}
