package kafkacontract

import (
	"testing"
	"time"

	"github.com/huleedu/huleedu/internal/apachekafka"
	"github.com/huleedu/huleedu/kafkabus"
)

// The idempotent producer's hard cases on a real broker, whose sequence
// and epoch bookkeeping (per producer id, per partition, restored from
// the log after a crash) is Kafka's own. Under each, no partition may
// stall on OUT_OF_ORDER_SEQUENCE_NUMBER or another sequence error, and
// nothing may be reordered (runScenario and lane.verify check both).
// The outage longer than the publish timeout is
// TestWholeClusterDownAndBack; the broker restart, whose producer state
// Kafka rebuilds from its log after the SIGKILL before it leads again,
// TestBrokerKilledAndRestartedOnItsData and
// TestLeaderOfThePublishedPartitionKilled.

// A backlog is being replayed, eight batches in flight, when the leader
// of the replayed partition dies: the batches in flight to it time out,
// the drainer sends them again from the head after the failover.
func TestLeaderKilledWhileTheBacklogIsReplayed(t *testing.T) {
	runScenario(t, scenario{
		inject: faultOf(apachekafka.FaultCut),
		heal: func(t *testing.T, c *apachekafka.Cluster, lanes []*lane) {
			t.Helper()
			before := make([]uint64, len(lanes))
			for i, l := range lanes {
				before[i] = l.bus.Stats().Replayed
			}
			if err := c.Heal(); err != nil {
				t.Fatal(err)
			}
			for i, l := range lanes {
				l.waitFor(t, 60*time.Second, "replay under way", func(s kafkabus.Stats) bool { return s.Replayed > before[i] })
			}
			leaderFaultOf(apachekafka.FaultLeaderKill)(t, c, lanes)
			time.Sleep(3 * time.Second) // past the controller's fencing: the failover happens
			if err := c.Heal(); err != nil {
				t.Fatal(err)
			}
		},
	})
}
