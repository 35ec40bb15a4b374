package apachekafka

import (
	"context"
	"fmt"
	"slices"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// state is what a broker's metadata says about the cluster.
type state struct {
	brokers []int32 // registered and unfenced, ascending
	topics  map[string]map[int32]partitionState
}

type partitionState struct {
	leader        int32
	replicas, isr []int32
	err           error
}

// state asks a broker for fresh metadata of topics (none: every topic).
// kadm's Metadata answers from franz-go's metadata cache, which learns of
// a broker's return only when the cache next expires, minutes later.
func (c *Cluster) state(ctx context.Context, topics ...string) (state, error) {
	return c.request(ctx, topics, len(topics) == 0)
}

// registered returns the brokers that are registered and unfenced,
// asking for no topic's metadata.
func (c *Cluster) registered(ctx context.Context) ([]int32, error) {
	st, err := c.request(ctx, nil, false)
	return st.brokers, err
}

// stateAt asks broker id itself for fresh metadata of every topic:
// brokers learn of new topics and leaders from the controller each at
// its own pace, and a client may ask any of them.
func (c *Cluster) stateAt(ctx context.Context, id int32) (state, error) {
	return c.requestFrom(ctx, func(ctx context.Context, req *kmsg.MetadataRequest) (*kmsg.MetadataResponse, error) {
		resp, err := c.admin.Broker(int(id)).Request(ctx, req)
		if err != nil {
			return nil, err
		}
		return resp.(*kmsg.MetadataResponse), nil
	}, nil, true)
}

func (c *Cluster) request(ctx context.Context, topics []string, all bool) (state, error) {
	return c.requestFrom(ctx, func(ctx context.Context, req *kmsg.MetadataRequest) (*kmsg.MetadataResponse, error) {
		return req.RequestWith(ctx, c.admin)
	}, topics, all)
}

func (c *Cluster) requestFrom(ctx context.Context, send func(context.Context, *kmsg.MetadataRequest) (*kmsg.MetadataResponse, error), topics []string, all bool) (state, error) {
	req := kmsg.NewPtrMetadataRequest()
	if !all {
		req.Topics = []kmsg.MetadataRequestTopic{}
	}
	for _, t := range topics {
		rt := kmsg.NewMetadataRequestTopic()
		rt.Topic = kmsg.StringPtr(t)
		req.Topics = append(req.Topics, rt)
	}
	resp, err := send(ctx, req)
	if err != nil {
		return state{}, err
	}
	s := state{topics: map[string]map[int32]partitionState{}}
	for _, b := range resp.Brokers {
		s.brokers = append(s.brokers, b.NodeID)
	}
	slices.Sort(s.brokers)
	for _, t := range resp.Topics {
		if t.Topic == nil {
			continue
		}
		if err := kerr.ErrorForCode(t.ErrorCode); err != nil {
			return state{}, fmt.Errorf("topic %s: %w", *t.Topic, err)
		}
		ps := map[int32]partitionState{}
		for _, p := range t.Partitions {
			ps[p.Partition] = partitionState{leader: p.Leader, replicas: p.Replicas, isr: p.ISR, err: kerr.ErrorForCode(p.ErrorCode)}
		}
		s.topics[*t.Topic] = ps
	}
	return s, nil
}
