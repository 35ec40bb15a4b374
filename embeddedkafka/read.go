package embeddedkafka

import (
	"cmp"
	"context"
	"fmt"
	"slices"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/huleedu/huleedu/event"
)

// ReadAll returns every record of topic, from the start of each partition
// up to its end offset at the time of the call, sorted by partition and
// offset: what a verifier compares with what a producer was told was
// acknowledged. Records produced during the call are not included. It
// reads with its own client and gives up when ctx ends.
func ReadAll(ctx context.Context, addrs []string, topic string) ([]*kgo.Record, error) {
	cl, err := kgo.NewClient(
		kgo.SeedBrokers(addrs...),
		kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
	)
	if err != nil {
		return nil, fmt.Errorf("embeddedkafka: read %s: %w", topic, err)
	}
	defer cl.Close()

	ends, err := kadm.NewClient(cl).ListEndOffsets(ctx, topic)
	if err == nil {
		err = ends.Error()
	}
	if err != nil {
		return nil, fmt.Errorf("embeddedkafka: read %s: end offsets: %w", topic, err)
	}
	remaining := map[int32]int64{} // partition -> end offset still to reach
	ends.Each(func(o kadm.ListedOffset) {
		if o.Offset > 0 {
			remaining[o.Partition] = o.Offset
		}
	})

	var recs []*kgo.Record
	for len(remaining) > 0 {
		fs := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("embeddedkafka: read %s: %d partitions unread: %w", topic, len(remaining), err)
		}
		var fetchErr error
		fs.EachError(func(t string, p int32, err error) {
			fetchErr = fmt.Errorf("embeddedkafka: read %s partition %d: %w", t, p, err)
		})
		if fetchErr != nil {
			return nil, fetchErr
		}
		fs.EachRecord(func(r *kgo.Record) {
			end, ok := remaining[r.Partition]
			if !ok || r.Offset >= end {
				return
			}
			recs = append(recs, r)
			if r.Offset+1 >= end {
				delete(remaining, r.Partition)
			}
		})
	}
	slices.SortFunc(recs, func(a, b *kgo.Record) int {
		return cmp.Or(cmp.Compare(a.Partition, b.Partition), cmp.Compare(a.Offset, b.Offset))
	})
	return recs, nil
}

// ReadEnvelopes is ReadAll for topics of event envelopes: every record's
// value parsed as an event.Envelope, in ReadAll's order. A record that is
// not a valid envelope fails the read with an error naming its partition
// and offset (wrapping event.ErrInvalidEnvelope).
func ReadEnvelopes(ctx context.Context, addrs []string, topic string) ([]*event.Envelope, error) {
	recs, err := ReadAll(ctx, addrs, topic)
	if err != nil {
		return nil, err
	}
	envs := make([]*event.Envelope, len(recs))
	for i, r := range recs {
		if envs[i], err = event.ParseEnvelope(r.Value); err != nil {
			return nil, fmt.Errorf("embeddedkafka: read %s partition %d offset %d: %w", topic, r.Partition, r.Offset, err)
		}
	}
	return envs, nil
}
