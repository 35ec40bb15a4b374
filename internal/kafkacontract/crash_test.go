package kafkacontract

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/huleedu/huleedu/event"
	"github.com/huleedu/huleedu/internal/apachekafka"
	"github.com/huleedu/huleedu/internal/testwait"
	"github.com/huleedu/huleedu/kafkabus"
	"github.com/huleedu/huleedu/resilience"
	"github.com/huleedu/huleedu/spool"
)

// The crash test runs publishers in a child process (this test binary,
// re-executed with crashEnv set, see TestMain) on a disk spool, SIGKILLs
// it in the middle of an outage, and starts a second child on the same
// spool once Kafka is back. The second child replays what the first one
// accepted before it publishes anything new: every record the first was
// told was accepted reaches Kafka, in order with the second's.

const crashEnv = "KAFKACONTRACT_CRASH_CHILD"

// crashChild publishes from crashPublishers goroutines until it is killed
// (or, with CRASH_COUNT set, until each has had that many accepted, then
// closes the bus). It prints "A <value>" for every accepted record and
// "S <spooled> <replayed> <queued>" as it goes.
func crashChild() int {
	fail := func(err error) int { fmt.Println("ERR", err); return 3 }
	q, err := spool.OpenDisk(os.Getenv("CRASH_DIR"), spool.DiskOptions{})
	if err != nil {
		return fail(err)
	}
	kb, err := kafkabus.NewKafkaBus(kafkabus.Options{Brokers: strings.Split(os.Getenv("CRASH_BROKERS"), ","), PublishTimeout: publishTimeout})
	if err != nil {
		return fail(err)
	}
	cb, err := resilience.NewCircuitBreaker(resilience.Settings{Name: "crash", FailureThreshold: failureThreshold, RecoveryTimeout: recoveryTimeout, SuccessThreshold: 1})
	if err != nil {
		return fail(err)
	}
	bus, err := kafkabus.NewResilientBus(kb, kafkabus.ResilientOptions{Breaker: cb, Queue: q, RetryMin: 20 * time.Millisecond, RetryMax: 500 * time.Millisecond, OpenPoll: 50 * time.Millisecond})
	if err != nil {
		return fail(err)
	}
	go func() {
		for {
			st := bus.Stats()
			fmt.Printf("S %d %d %d\n", st.Spooled, st.Replayed, st.Queue.Records)
			time.Sleep(10 * time.Millisecond)
		}
	}()
	topic, prefix := os.Getenv("CRASH_TOPIC"), os.Getenv("CRASH_PREFIX")
	count, _ := strconv.Atoi(os.Getenv("CRASH_COUNT"))
	var wg sync.WaitGroup
	for p := range crashPublishers {
		key := fmt.Sprintf("key-%d", p)
		wg.Go(func() {
			for i, n := 0, 0; count == 0 || n < count; i++ {
				v := fmt.Sprintf("%s/%s/%07d", key, prefix, i)
				if bus.PublishRecord(context.Background(), event.Record{Topic: topic, Key: []byte(key), Value: []byte(v)}) == nil {
					fmt.Println("A", v) // one write: lines do not interleave
					n++
				}
				time.Sleep(publishPace)
			}
		})
	}
	wg.Wait()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := bus.Close(ctx); err != nil {
		return fail(err)
	}
	fmt.Println("DONE")
	return 0
}

const crashPublishers = 3

// crashProcess is a running child and what it has reported.
type crashProcess struct {
	cmd  *exec.Cmd
	done chan struct{} // closed when its output ends

	// mu guards the fields below.
	mu                        sync.Mutex
	accepted                  map[string][]string
	spooled, replayed, queued int
	finished                  bool
	lastLine                  string
}

func startCrashProcess(t *testing.T, c *apachekafka.Cluster, dir, topic, prefix string, count int) *crashProcess {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), crashEnv+"=1", "CRASH_DIR="+dir, "CRASH_TOPIC="+topic, "CRASH_PREFIX="+prefix,
		"CRASH_BROKERS="+strings.Join(c.Addrs(), ","), "CRASH_COUNT="+strconv.Itoa(count))
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &crashProcess{cmd: cmd, done: make(chan struct{}), accepted: map[string][]string{}}
	go p.read(out)
	t.Cleanup(func() { _ = cmd.Process.Kill(); <-p.done; _ = cmd.Wait() })
	return p
}

func (p *crashProcess) read(out io.Reader) {
	defer close(p.done)
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) == 0 {
			continue
		}
		p.mu.Lock()
		switch {
		case f[0] == "A" && len(f) == 2:
			key, _, _ := strings.Cut(f[1], "/")
			p.accepted[key] = append(p.accepted[key], f[1])
		case f[0] == "S" && len(f) == 4:
			p.spooled, _ = strconv.Atoi(f[1])
			p.replayed, _ = strconv.Atoi(f[2])
			p.queued, _ = strconv.Atoi(f[3])
		case f[0] == "DONE":
			p.finished = true
		default:
			p.lastLine = sc.Text()
		}
		p.mu.Unlock()
	}
}

func (p *crashProcess) waitFor(t *testing.T, what string, cond func(p *crashProcess) bool) {
	t.Helper()
	testwait.For(t, 2*time.Minute, what, func() bool {
		p.mu.Lock()
		defer p.mu.Unlock()
		if p.lastLine != "" {
			t.Fatalf("crash child: %s", p.lastLine)
		}
		return cond(p)
	})
}

func (p *crashProcess) count() int {
	n := 0
	for _, vs := range p.accepted {
		n += len(vs)
	}
	return n
}

// kill SIGKILLs the child and returns what it reported accepted.
func (p *crashProcess) kill(t *testing.T) map[string][]string {
	t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-p.done
	_ = p.cmd.Wait()
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.accepted
}

func TestPublisherKilledMidOutageLeavesASpoolTheNextProcessDelivers(t *testing.T) {
	c := kafka(t)
	topic := topicName(t, "crash")
	if err := c.CreateTopic(context.Background(), topic, 0, nil); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	first := startCrashProcess(t, c, dir, topic, "first", 0)
	first.waitFor(t, "healthy traffic", func(p *crashProcess) bool { return p.count() >= 300 && p.spooled == 0 })
	// Brokers unreachable: the outage as a client sees it, without the
	// JVM restarts (TestWholeClusterDownAndBack has those).
	if err := c.Fault(apachekafka.FaultCut); err != nil {
		t.Fatal(err)
	}
	first.waitFor(t, "2000 records spooled during the outage", func(p *crashProcess) bool { return p.spooled >= 2000 })
	accepted := first.kill(t) // in the middle of appends: it spools as fast as it can
	if err := c.Heal(); err != nil {
		t.Fatal(err)
	}
	// The second process replays the first's spool before any record of
	// its own, then publishes 200 more per key and closes.
	second := startCrashProcess(t, c, dir, topic, "second", 200)
	second.waitFor(t, "the second process to finish", func(p *crashProcess) bool { return p.finished })
	<-second.done
	second.mu.Lock()
	for key, vs := range second.accepted {
		accepted[key] = append(accepted[key], vs...)
	}
	second.mu.Unlock()

	delivered := readTopic(t, c, topic)
	v := check(accepted, delivered)
	// A record the first process had queued but not yet reported when it
	// died is delivered too: its caller was never told either way.
	t.Logf("%d accepted by two processes, %d delivered, %d duplicates, %d delivered whose acceptance the first process did not live to report",
		v.accepted, v.delivered, v.duplicates, v.unaccepted)
	if v.lost > 0 || v.reordered > 0 {
		t.Fatalf("%d lost (first %s), %d reordered (first %s)", v.lost, v.lostFirst, v.reordered, v.reorderedFirst)
	}
}
