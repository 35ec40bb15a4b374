package kafkacontract

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/huleedu/huleedu/event"
	"github.com/huleedu/huleedu/internal/apachekafka"
	"github.com/huleedu/huleedu/internal/testwait"
	"github.com/huleedu/huleedu/kafkabus"
	"github.com/huleedu/huleedu/resilience"
	"github.com/huleedu/huleedu/spool"
)

// Settings of every lane's bus. The publish timeout is short so that a
// fault of a few seconds outlasts it many times: records time out in
// flight, the breaker opens, the queue fills, and a replay meets the
// producer state those timeouts left behind.
const (
	publishTimeout   = time.Second
	failureThreshold = 3
	recoveryTimeout  = 500 * time.Millisecond
)

// fallback is the kind of a lane's fallback queue.
type fallback string

const (
	memoryQueue fallback = "memory"
	diskSpool   fallback = "disk"
)

var fallbacks = []fallback{memoryQueue, diskSpool}

// lane is one ResilientBus with its own topic, franz-go client and
// fallback queue, and the publishers that write through it.
type lane struct {
	fb    fallback
	topic string
	kb    *kafkabus.KafkaBus
	cb    *resilience.CircuitBreaker
	bus   *kafkabus.ResilientBus
	obs   *observer

	// mu guards accepted and refused.
	mu       sync.Mutex
	accepted map[string][]string // key → values Publish accepted, in order
	refused  []error
	stop     chan struct{}
	wg       sync.WaitGroup
	closed   bool
}

// newLanes makes a lane of each fallback kind for the test, on topics of
// their own.
func newLanes(t *testing.T, c *apachekafka.Cluster) []*lane {
	t.Helper()
	var ls []*lane
	for _, fb := range fallbacks {
		ls = append(ls, newLane(t, c, fb, nil))
	}
	return ls
}

// newLane creates the lane's topic and bus. configure may adjust the
// KafkaBus options.
func newLane(t *testing.T, c *apachekafka.Cluster, fb fallback, configure func(*kafkabus.Options)) *lane {
	t.Helper()
	l := &lane{fb: fb, topic: topicName(t, string(fb)), obs: newObserver(), accepted: map[string][]string{}, stop: make(chan struct{})}
	if err := c.CreateTopic(context.Background(), l.topic, 0, nil); err != nil {
		t.Fatal(err)
	}
	o := kafkabus.Options{
		Brokers:        c.Addrs(),
		ClientID:       l.topic,
		PublishTimeout: publishTimeout,
		Logger:         l.obs.logger(l.topic),
		KgoOpts:        []kgo.Opt{kgo.WithHooks(l.obs)},
	}
	if configure != nil {
		configure(&o)
	}
	kb, err := kafkabus.NewKafkaBus(o)
	if err != nil {
		t.Fatal(err)
	}
	l.kb = kb
	l.cb, err = resilience.NewCircuitBreaker(resilience.Settings{
		Name:             l.topic,
		FailureThreshold: failureThreshold,
		RecoveryTimeout:  recoveryTimeout,
		SuccessThreshold: 1,
	})
	if err != nil {
		t.Fatal(err)
	}
	var q spool.Queue
	switch fb {
	case memoryQueue:
		q, err = spoolMemory()
	case diskSpool:
		q, err = spool.OpenDisk(t.TempDir(), spool.DiskOptions{})
	}
	if err != nil {
		t.Fatal(err)
	}
	l.bus, err = kafkabus.NewResilientBus(kb, kafkabus.ResilientOptions{
		Breaker:  l.cb,
		Queue:    q,
		RetryMin: 20 * time.Millisecond,
		RetryMax: 500 * time.Millisecond,
		OpenPoll: 50 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	l.warmUp(t)
	t.Cleanup(func() {
		l.stopPublishers()
		if !l.closed {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			_ = l.bus.Close(ctx)
		}
	})
	return l
}

// warmUpKey is the key of the record each lane starts with; verify
// ignores it.
const warmUpKey = "warm-up"

// warmUp produces one record through the lane's KafkaBus until Kafka
// acknowledges it: metadata, connections and the producer id are in
// place before the publishers start, so that a slow first request on a
// loaded machine does not open the breaker before any fault.
func (l *lane) warmUp(t *testing.T) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	rec := event.Record{Topic: l.topic, Key: []byte(warmUpKey), Value: []byte(warmUpKey)}
	for {
		err := l.kb.Produce(context.Background(), []event.Record{rec})[0]
		if err == nil {
			return
		}
		if !kafkabus.IsRetriable(err) || time.Now().After(deadline) {
			t.Fatalf("%s lane: warm-up produce: %v", l.fb, err)
		}
	}
}

// topics counts the topics topicName has named, so that a test run again
// in the same process (-count) gets new ones.
var topics atomic.Int64

// topicName is a new topic for the test and suffix: Kafka topic names
// allow only [a-zA-Z0-9._-].
func topicName(t *testing.T, suffix string) string {
	name := strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '-' {
			return r
		}
		return '_'
	}, t.Name())
	return fmt.Sprintf("%s.%s.%d", name, suffix, topics.Add(1))
}

// startPublishers starts n goroutines that publish through the lane until
// stopPublishers, each on a key of its own, pausing pace after every
// record. A record's value is its key and a sequence number.
func (l *lane) startPublishers(n int, pace time.Duration) {
	for p := range n {
		key := fmt.Sprintf("key-%d", p)
		l.wg.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-l.stop:
					return
				default:
				}
				v := fmt.Sprintf("%s/%07d", key, i)
				err := l.bus.PublishRecord(context.Background(), event.Record{Topic: l.topic, Key: []byte(key), Value: []byte(v)})
				l.mu.Lock()
				if err == nil {
					l.accepted[key] = append(l.accepted[key], v)
				} else {
					l.refused = append(l.refused, err)
				}
				l.mu.Unlock()
				if pace > 0 {
					time.Sleep(pace)
				}
			}
		})
	}
}

func (l *lane) stopPublishers() {
	select {
	case <-l.stop:
	default:
		close(l.stop)
	}
	l.wg.Wait()
}

// close stops the publishers and closes the bus, which must deliver
// everything it still holds.
func (l *lane) close(t *testing.T) {
	t.Helper()
	l.stopPublishers()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	l.closed = true
	if err := l.bus.Close(ctx); err != nil {
		t.Fatalf("%s: Close: %v", l.fb, err)
	}
}

// waitFor polls cond for the lane with a deadline.
func (l *lane) waitFor(t *testing.T, timeout time.Duration, what string, cond func(kafkabus.Stats) bool) {
	t.Helper()
	var last kafkabus.Stats
	defer func() {
		if t.Failed() {
			t.Logf("%s lane at the end of the wait: %+v\n\t%s", l.fb, last, l.obs.summary())
		}
	}()
	testwait.For(t, timeout, fmt.Sprintf("%s lane: %s", l.fb, what), func() bool { last = l.bus.Stats(); return cond(last) })
}

// verify reads the lane's topic back with a consumer of its own and checks
// the contract: every accepted record delivered, per key in acceptance
// order. It logs the counts and returns the verdict.
func (l *lane) verify(t *testing.T, c *apachekafka.Cluster) verdict {
	t.Helper()
	delivered := readTopic(t, c, l.topic)
	delete(delivered, warmUpKey)
	l.mu.Lock()
	v := check(l.accepted, delivered)
	refused := l.refused
	l.mu.Unlock()
	st := l.bus.Stats()
	t.Logf("%s lane: %d accepted (%d direct, %d spooled, %d replayed), %d delivered, %d duplicates, %d refused\n\t%s",
		l.fb, v.accepted, st.Published, st.Spooled, st.Replayed, v.delivered, v.duplicates, len(refused), l.obs.summary())
	if v.lost > 0 || v.reordered > 0 {
		t.Errorf("%s lane: %d accepted records lost (first %v), %d reordered (first %v)", l.fb, v.lost, v.lostFirst, v.reordered, v.reorderedFirst)
	}
	if v.unaccepted > 0 {
		t.Errorf("%s lane: %d records in Kafka that no publisher was told were accepted", l.fb, v.unaccepted)
	}
	if seq := l.obs.failedOnSequence(); len(seq) > 0 {
		t.Errorf("%s lane: records failed on the idempotent producer's sequence errors: %v", l.fb, seq)
	}
	return v
}

// spoolMemory is the memory queue every lane of kind memoryQueue gets.
func spoolMemory() (spool.Queue, error) {
	return spool.NewMemory(spool.MemoryOptions{MaxRecords: 10_000_000})
}
