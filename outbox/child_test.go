package outbox_test

import (
	"bufio"
	"context"
	"database/sql"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/huleedu/huleedu/embeddedkafka"
	"github.com/huleedu/huleedu/internal/testwait"
	"github.com/huleedu/huleedu/kafkabus"
	"github.com/huleedu/huleedu/outbox"
	"github.com/huleedu/huleedu/resilience"
	"github.com/huleedu/huleedu/sqldb"
)

// The test binary doubles as the child process of the crash tests: with
// childEnv set, TestMain runs childMain instead of the tests. The child
// reads its database from childDSNEnv and, as a relay, its Kafka from
// childBrokersEnv; it reports progress on stdout, one line per step, and
// runs until it is killed.
const (
	childEnv        = "OUTBOX_TEST_CHILD" // enqueue or relay
	childDSNEnv     = "OUTBOX_TEST_DSN"
	childBrokersEnv = "OUTBOX_TEST_BROKERS"
	childEvents     = 50
	childKeys       = 5
)

func childMain() {
	if err := runChild(os.Getenv(childEnv)); err != nil {
		fmt.Println("error:", err)
		os.Exit(1)
	}
	select {} // until killed
}

func runChild(mode string) error {
	ctx := context.Background()
	db, err := sqldb.Open(ctx, os.Getenv(childDSNEnv), sqldb.Options{Migrations: []sqldb.Migrations{outbox.Migrations(), stateMigrations}})
	if err != nil {
		return err
	}
	ob, err := outbox.New(ctx, db, outbox.Options{})
	if err != nil {
		return err
	}
	switch mode {
	case "enqueue":
		// Each event is committed with its state change, then reported:
		// a line on stdout means the commit returned.
		for n := 1; n <= childEvents; n++ {
			key := keyOf(n, childKeys)
			m, err := newMessage(key, (n+childKeys-1)/childKeys, n)
			if err != nil {
				return err
			}
			if err := db.InTx(ctx, func(tx *sql.Tx) error {
				if err := changeState(ctx, tx, key, n); err != nil {
					return err
				}
				return ob.Enqueue(ctx, tx, m)
			}); err != nil {
				return err
			}
			fmt.Println("committed", n)
		}
	case "relay":
		bus, err := kafkabus.NewKafkaBus(kafkabus.Options{Brokers: strings.Split(os.Getenv(childBrokersEnv), ","), PublishTimeout: relayProduceTimeout})
		if err != nil {
			return err
		}
		cb, err := resilience.NewCircuitBreaker(resilience.Settings{Name: "child.kafka_producer", FailureThreshold: 3, RecoveryTimeout: 200 * time.Millisecond})
		if err != nil {
			return err
		}
		opts := testRelayOptions(nil, "child")
		opts.Logger = nil
		r, err := outbox.NewRelay(ob, bus, cb, opts)
		if err != nil {
			return err
		}
		go func() { _ = r.Run(ctx) }() // until the process is killed
		for r.Stats().Leases < outbox.LeasePartitions {
			time.Sleep(10 * time.Millisecond) // the child has no test deadline; the parent's bounds it
		}
		fmt.Println("relaying")
	default:
		return fmt.Errorf("unknown child mode %q", mode)
	}
	return nil
}

// child starts the test binary as a child in mode and returns it with a
// scanner of its stdout. It is killed when the test ends, if not before.
func child(t *testing.T, mode, dsn string, brokers []string) (*exec.Cmd, *bufio.Scanner) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"="+mode, childDSNEnv+"="+dsn, childBrokersEnv+"="+strings.Join(brokers, ","))
	cmd.Stderr = os.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	return cmd, bufio.NewScanner(out)
}

// await reads the child's lines until one equal to want, failing on an
// error line or the end of its output.
func await(t *testing.T, sc *bufio.Scanner, want string) {
	t.Helper()
	done := make(chan error, 1)
	go func() {
		for sc.Scan() {
			line := sc.Text()
			if line == want {
				done <- nil
				return
			}
			if strings.HasPrefix(line, "error:") {
				done <- fmt.Errorf("child: %s", line)
				return
			}
		}
		done <- fmt.Errorf("child ended its output before %q: %v", want, sc.Err())
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(60 * time.Second):
		t.Fatalf("child did not report %q within 60s", want)
	}
}

func kill(t *testing.T, cmd *exec.Cmd) {
	t.Helper()
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
}

func TestEventsCommittedBeforeSIGKILLAreDeliveredAfterTheRestart(t *testing.T) {
	forEachBackend(t, func(t *testing.T, dsn string) {
		_, ob := openDB(t, dsn)
		cmd, out := child(t, "enqueue", dsn, nil)
		await(t, out, "committed "+strconv.Itoa(childEvents))
		kill(t, cmd) // no relay ran: every event is only in the table
		st, err := ob.Stats(context.Background())
		if err != nil || st.Pending != childEvents {
			t.Fatalf("after the kill: %+v (%v), want %d pending rows", st, err, childEvents)
		}
		c := cluster(t, embeddedkafka.Config{})
		startRelay(t, ob, newBus(t, c.Addrs()), newBreaker(t), testRelayOptions(t, "restarted"))
		waitDrained(t, ob, 30*time.Second)
		mustDeliverAll(t, c.Addrs(), childEvents)
	})
}

func TestAKilledRelaysLeasesExpireAndAnotherRelayDelivers(t *testing.T) {
	forEachBackend(t, func(t *testing.T, dsn string) {
		db, ob := openDB(t, dsn)
		c := cluster(t, embeddedkafka.Config{})
		// Kafka is cut while the child relays: it holds every lease and
		// delivers nothing.
		if err := c.Fault(embeddedkafka.FaultCut); err != nil {
			t.Fatal(err)
		}
		newEnqueuer(t, db, ob, childKeys).commit(childEvents)
		cmd, out := child(t, "relay", dsn, c.Addrs())
		await(t, out, "relaying")
		kill(t, cmd)
		if err := c.Heal(); err != nil {
			t.Fatal(err)
		}
		r, _ := startRelay(t, ob, newBus(t, c.Addrs()), newBreaker(t), testRelayOptions(t, "survivor"))
		testwait.For(t, 30*time.Second, "the survivor to take the dead relay's leases", func() bool {
			return r.Stats().Leases == outbox.LeasePartitions
		})
		waitDrained(t, ob, 30*time.Second)
		mustDeliverAll(t, c.Addrs(), childEvents)
	})
}
