package kafkacontract

import (
	"context"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/huleedu/huleedu/internal/apachekafka"
)

// verdict is what check found.
type verdict struct {
	accepted, delivered int // delivered counts distinct values
	lost, reordered     int
	duplicates          int // copies beyond the first
	unaccepted          int // distinct values in Kafka that were not accepted
	lostFirst           string
	reorderedFirst      string
}

// check compares what publishers were told was accepted (per key, in
// order) with what Kafka holds (per key, in offset order). A record's
// first copy is where it counts for order; later copies are duplicates,
// never reorders: a consumer that drops duplicates by id sees every key
// in acceptance order.
func check(accepted map[string][]string, delivered map[string][]string) verdict {
	var v verdict
	for key, vals := range accepted {
		v.accepted += len(vals)
		pos := map[string]int{}
		for i, d := range delivered[key] {
			if _, seen := pos[d]; seen {
				v.duplicates++
				continue
			}
			pos[d] = i
		}
		v.delivered += len(pos)
		last := -1
		want := map[string]bool{}
		for _, a := range vals {
			want[a] = true
			i, ok := pos[a]
			switch {
			case !ok:
				if v.lost == 0 {
					v.lostFirst = a
				}
				v.lost++
			case i < last:
				if v.reordered == 0 {
					v.reorderedFirst = a
				}
				v.reordered++
			default:
				last = i
			}
		}
		for d := range pos {
			if !want[d] {
				v.unaccepted++
			}
		}
	}
	for key, ds := range delivered {
		if _, ok := accepted[key]; !ok {
			v.unaccepted += len(ds)
		}
	}
	return v
}

// readTopic reads every record of topic up to its end offsets with a
// consumer of its own, and returns the values per key in offset order.
func readTopic(t *testing.T, c *apachekafka.Cluster, topic string) map[string][]string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	ends, err := c.Admin().ListEndOffsets(ctx, topic)
	if err == nil {
		err = ends.Error()
	}
	if err != nil {
		t.Fatalf("end offsets of %s: %v", topic, err)
	}
	remaining := map[int32]int64{}
	for _, ps := range ends {
		for p, o := range ps {
			if o.Offset > 0 {
				remaining[p] = o.Offset
			}
		}
	}
	cl, err := kgo.NewClient(
		kgo.SeedBrokers(c.Addrs()...),
		kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.DisableClientMetrics(),
	)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	out := map[string][]string{}
	for len(remaining) > 0 {
		fs := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			t.Fatalf("reading %s back: %d partitions unread: %v", topic, len(remaining), err)
		}
		fs.EachError(func(_ string, p int32, err error) { t.Fatalf("reading %s/%d back: %v", topic, p, err) })
		// Records of one partition arrive in offset order.
		fs.EachRecord(func(r *kgo.Record) {
			end, ok := remaining[r.Partition]
			if !ok || r.Offset >= end {
				return
			}
			out[string(r.Key)] = append(out[string(r.Key)], string(r.Value))
			if r.Offset+1 >= end {
				delete(remaining, r.Partition)
			}
		})
	}
	return out
}
