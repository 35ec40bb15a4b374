package drill

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/huleedu/huleedu/spool"
)

// ensureTopic creates topic with partitions partitions unless it exists,
// and returns its end offsets now: the drill's records all come after them,
// so the read-back starts there instead of at the beginning of a topic that
// earlier drills may have filled.
func ensureTopic(ctx context.Context, brokers []string, topic string, partitions int) (map[int32]int64, error) {
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		return nil, fmt.Errorf("drill: admin client for %v: %w", brokers, err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	_, err = adm.CreateTopic(ctx, int32(partitions), -1, nil, topic)
	if err != nil && !errors.Is(err, kerr.TopicAlreadyExists) {
		return nil, fmt.Errorf("drill: creating topic %q with %d partitions: %w", topic, partitions, err)
	}
	return endOffsets(ctx, adm, topic)
}

func endOffsets(ctx context.Context, adm *kadm.Client, topic string) (map[int32]int64, error) {
	// A topic just created may need a moment before every partition has a
	// leader; retry until the offsets list cleanly or ctx ends.
	for {
		listed, err := adm.ListEndOffsets(ctx, topic)
		if err == nil {
			err = listed.Error()
		}
		if err == nil {
			ends := make(map[int32]int64)
			listed.Each(func(o kadm.ListedOffset) { ends[o.Partition] = o.Offset })
			if len(ends) > 0 {
				return ends, nil
			}
			err = fmt.Errorf("topic %q has no partitions", topic)
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("drill: listing end offsets of %q: %w (last error: %w)", topic, ctx.Err(), err)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// readBack reads topic from the offsets in from up to its end offsets as
// they are when readBack starts, with a consumer of its own, and returns
// the records of drill run.
func readBack(ctx context.Context, brokers []string, topic, run string, from map[int32]int64) ([]Delivery, error) {
	admCl, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		return nil, fmt.Errorf("drill: admin client for %v: %w", brokers, err)
	}
	ends, err := endOffsets(ctx, kadm.NewClient(admCl), topic)
	admCl.Close()
	if err != nil {
		return nil, err
	}

	start := make(map[int32]kgo.Offset)
	next := make(map[int32]int64) // next offset to read, per partition still to read
	for p, end := range ends {
		at := from[p] // 0 for a partition the drill did not know about
		if end > at {
			start[p] = kgo.NewOffset().At(at)
			next[p] = at
		}
	}
	if len(start) == 0 {
		return nil, nil
	}
	cl, err := kgo.NewClient(
		kgo.SeedBrokers(brokers...),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: start}),
		kgo.FetchMaxWait(250*time.Millisecond),
	)
	if err != nil {
		return nil, fmt.Errorf("drill: consumer for %v: %w", brokers, err)
	}
	defer cl.Close()

	var out []Delivery
	for len(next) > 0 {
		fetches := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			return out, fmt.Errorf("drill: reading %q back: %d partitions not read to their end: %w", topic, len(next), err)
		}
		// Fetch errors are retried by the client; a persistent one ends
		// in ctx's deadline, reported above.
		fetches.EachRecord(func(r *kgo.Record) {
			if n, ok := next[r.Partition]; ok && r.Offset+1 > n {
				next[r.Partition] = r.Offset + 1
			}
			var v struct {
				Data recordData `json:"data"`
			}
			// Records of other producers on a shared topic are not ours
			// to judge: skip what does not decode or is not this run's.
			if err := json.Unmarshal(r.Value, &v); err != nil || v.Data.Run != run {
				return
			}
			out = append(out, Delivery{Partition: r.Partition, Offset: r.Offset, Key: string(r.Key), Seq: v.Data.Seq})
		})
		for p, n := range next {
			if n >= ends[p] {
				delete(next, p)
			}
		}
	}
	return out, nil
}

// readSpool returns the seqs of drill run still in the disk spool in dir,
// which no process holds any more: the records the bus accepted and left
// there when Close gave up on the drain. Reading changes nothing in it.
func readSpool(ctx context.Context, dir, run string) ([]int64, error) {
	q, err := spool.OpenDisk(dir, spool.DiskOptions{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		return nil, fmt.Errorf("drill: reading what is left in the spool: %w", err)
	}
	defer q.Close()
	var seqs []int64
	var after uint64
	for {
		var entries []spool.Entry
		if after == 0 {
			entries, err = q.Peek(ctx, 1000)
		} else {
			entries, err = q.PeekAfter(ctx, after, 1000)
		}
		if err != nil {
			return nil, fmt.Errorf("drill: reading what is left in the spool %s: %w", dir, err)
		}
		if len(entries) == 0 {
			return seqs, nil
		}
		for _, e := range entries {
			var v struct {
				Data recordData `json:"data"`
			}
			if err := json.Unmarshal(e.Value, &v); err == nil && v.Data.Run == run {
				seqs = append(seqs, v.Data.Seq)
			}
		}
		after = entries[len(entries)-1].Seq
	}
}
