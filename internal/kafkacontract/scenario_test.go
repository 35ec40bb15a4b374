package kafkacontract

import (
	"sync"
	"testing"
	"time"

	"github.com/huleedu/huleedu/internal/apachekafka"
	"github.com/huleedu/huleedu/kafkabus"
)

// Every scenario publishes from this many goroutines per lane, pausing
// this long after each record: steady traffic, as a service's.
const (
	publishersPerLane = 3
	publishPace       = 4 * time.Millisecond
)

// scenario is one fault under steady publishing.
type scenario struct {
	// inject begins the fault.
	inject func(t *testing.T, c *apachekafka.Cluster, lanes []*lane)
	// hold is how long the fault lasts once every lane has spooled a
	// record (default 3s: three publish timeouts).
	hold time.Duration
	// heal ends it (default Cluster.Heal).
	heal func(t *testing.T, c *apachekafka.Cluster, lanes []*lane)
}

// runScenario runs sc with a memory lane and a disk lane side by side:
// healthy traffic first, then the fault until every lane has queued
// records and for sc.hold more, then recovery until the records queued
// during the fault are replayed. It closes the buses (which deliver the
// rest), verifies every topic and returns the lanes.
func runScenario(t *testing.T, sc scenario) []*lane {
	t.Helper()
	c := kafka(t)
	lanes := newLanes(t, c)
	for _, l := range lanes {
		l.startPublishers(publishersPerLane, publishPace)
	}
	for _, l := range lanes {
		l.waitFor(t, 60*time.Second, "healthy traffic to Kafka", func(s kafkabus.Stats) bool { return s.Published+s.Replayed >= 200 })
	}

	spooled := make([]uint64, len(lanes))
	for i, l := range lanes {
		spooled[i] = l.bus.Stats().Spooled
	}
	sc.inject(t, c, lanes)
	faulted := time.Now()
	for i, l := range lanes {
		// Every fault here reaches the producer: it must make the
		// bus queue, or the test did not test the fault.
		l.waitFor(t, 60*time.Second, "records queued under the fault", func(s kafkabus.Stats) bool { return s.Spooled > spooled[i]+50 })
	}
	t.Logf("fault: every lane queueing %v after it began", time.Since(faulted).Round(time.Millisecond))
	hold := sc.hold
	if hold == 0 {
		hold = 3 * time.Second
	}
	time.Sleep(hold) // the fault lasts; publishers keep writing

	healStart := time.Now()
	if sc.heal != nil {
		sc.heal(t, c, lanes)
	} else if err := c.Heal(); err != nil {
		t.Fatal(err)
	}
	healed := time.Now()
	var wg sync.WaitGroup
	for _, l := range lanes {
		// Everything queued before the heal is replayed. Under steady
		// traffic the queue need not become empty: on Kafka a replay
		// round trip takes longer than the gap between two publishes,
		// so there is always a newer record behind it.
		target := l.bus.Stats().Spooled
		wg.Go(func() {
			l.waitFor(t, 2*time.Minute, "the records queued during the fault to be replayed", func(s kafkabus.Stats) bool { return s.Replayed >= target })
		})
	}
	wg.Wait()
	t.Logf("recovery: cluster healed in %v, the backlog replayed %v later", healed.Sub(healStart).Round(time.Millisecond), time.Since(healed).Round(time.Millisecond))
	for _, l := range lanes {
		l.close(t)
	}
	for _, l := range lanes {
		l.verify(t, c)
		l.mu.Lock()
		refused := l.refused
		l.mu.Unlock()
		if len(refused) > 0 {
			t.Errorf("%s lane: %d publishes refused under an infrastructure fault, the first: %v", l.fb, len(refused), refused[0])
		}
	}
	return lanes
}

// faultOf returns an inject function that starts kind on the cluster.
func faultOf(kind apachekafka.FaultKind, opts ...apachekafka.FaultOpt) func(*testing.T, *apachekafka.Cluster, []*lane) {
	return func(t *testing.T, c *apachekafka.Cluster, _ []*lane) {
		t.Helper()
		if err := c.Fault(kind, opts...); err != nil {
			t.Fatal(err)
		}
	}
}
