package bench

import (
	"context"

	"sync/atomic"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	wsql "github.com/ThreeDotsLabs/watermill-sql/v4/pkg/sql"
	"github.com/ThreeDotsLabs/watermill/components/forwarder"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/huleedu/huleedu/outbox"
)

// watermillRound is smaller than relayRound: the forwarder publishes one
// message at a time.
const (
	watermillRound  = 5_000
	watermillWarmup = 200
)

// BenchmarkOutboxWatermill compares the relay with watermill-sql's
// forwarder (the outbox of the watermill ecosystem) on the same
// PostgreSQL, draining the same backlog to the same kfake cluster. Each
// round commits its events first (not timed): into our outbox while the
// breaker is forced open, into watermill's forwarder topic through
// forwarder.Publisher in transactions of the same size. Then it times
// until Kafka acknowledged them all: the relay after a breaker Reset; a
// forwarder started for the round (its start is timed, a few
// milliseconds), publishing through a franz-go client of the same
// settings as ours. ratio is ours/watermill records per second.
func BenchmarkOutboxWatermill(b *testing.B) {
	ctx := context.Background()
	db, ob := outboxDB(b)
	addrs := newCluster(b)
	cb := openBreaker(b)
	relay := benchRelay(b, ob, newKafkaBus(b, addrs), cb, outbox.RelayOptions{})
	published := uint64(0)
	ours := side{"outbox", func(n int) time.Duration {
		b.StopTimer()
		cb.ForceOpen()
		fillOutbox(b, db, ob, n)
		b.StartTimer()
		start := time.Now()
		cb.Reset()
		published += uint64(n)
		waitUntil(b, 10*time.Minute, 50*time.Microsecond, "the relay to publish the backlog", func() bool { return relay.Stats().Published >= published })
		return time.Since(start)
	}}

	const forwarderTopic = "bench_forwarder"
	logger := watermill.NopLogger{}
	schema := wsql.DefaultPostgreSQLSchema{SubscribeBatchSize: outbox.DefaultBatchSize}
	out := &kgoPublisher{cl: rawClient(b, addrs)}
	fill := func(n int) {
		payloads := make([][]byte, keys)
		for i := range payloads {
			rec, err := benchEnvelopes[i].Record(benchTopic, string(benchKeys[i]))
			if err != nil {
				b.Fatal(err)
			}
			payloads[i] = rec.Value
		}
		for lo := 0; lo < n; lo += outbox.DefaultBatchSize {
			tx, err := db.SQL().BeginTx(ctx, nil)
			if err != nil {
				b.Fatal(err)
			}
			pub, err := wsql.NewPublisher(wsql.TxFromStdSQL(tx), wsql.PublisherConfig{SchemaAdapter: schema}, logger)
			if err != nil {
				b.Fatal(err)
			}
			fp := forwarder.NewPublisher(pub, forwarder.PublisherConfig{ForwarderTopic: forwarderTopic})
			for i := lo; i < min(lo+outbox.DefaultBatchSize, n); i++ {
				if err := changeBenchState(ctx, tx, i); err != nil {
					b.Fatal(err)
				}
				m := message.NewMessage(watermill.NewUUID(), payloads[i%keys])
				m.Metadata.Set("key", string(benchKeys[i%keys]))
				if err := fp.Publish(benchTopic, m); err != nil {
					b.Fatal(err)
				}
			}
			if err := tx.Commit(); err != nil {
				b.Fatal(err)
			}
		}
	}
	subConfig := wsql.SubscriberConfig{
		ConsumerGroup: "bench", SchemaAdapter: schema, OffsetsAdapter: wsql.DefaultPostgreSQLOffsetsAdapter{},
		InitializeSchema: true, PollInterval: time.Millisecond,
	}
	// The forwarder topic's tables, created once, outside the rounds.
	initSub, err := wsql.NewSubscriber(wsql.BeginnerFromStdSQL(db.SQL()), subConfig, logger)
	if err != nil {
		b.Fatal(err)
	}
	if err := initSub.SubscribeInitialize(forwarderTopic); err != nil {
		b.Fatal(err)
	}
	_ = initSub.Close()
	forwarded := int64(0)
	theirs := side{"watermill", func(n int) time.Duration {
		b.StopTimer()
		fill(n)
		b.StartTimer()
		start := time.Now()
		sub, err := wsql.NewSubscriber(wsql.BeginnerFromStdSQL(db.SQL()), subConfig, logger)
		if err != nil {
			b.Fatal(err)
		}
		fwd, err := forwarder.NewForwarder(sub, out, logger, forwarder.Config{ForwarderTopic: forwarderTopic})
		if err != nil {
			b.Fatal(err)
		}
		runDone := make(chan error, 1)
		go func() { runDone <- fwd.Run(context.Background()) }()
		forwarded += int64(n)
		waitUntil(b, 10*time.Minute, 50*time.Microsecond, "the forwarder to publish the backlog", func() bool { return out.n.Load() >= forwarded })
		d := time.Since(start)
		b.StopTimer()
		if err := fwd.Close(); err != nil {
			b.Fatal(err)
		}
		<-runDone
		_ = sub.Close()
		b.StartTimer()
		return d
	}}
	ours.run(watermillWarmup)
	theirs.run(watermillWarmup)
	b.ResetTimer()
	interleave(b, b.N, watermillRound, ours, theirs)
}

// kgoPublisher is the forwarder's outgoing watermill publisher: franz-go
// producing each message to its topic, keyed by its "key" metadata, and
// counting what Kafka acknowledged.
type kgoPublisher struct {
	cl *kgo.Client
	n  atomic.Int64
}

func (p *kgoPublisher) Publish(topic string, msgs ...*message.Message) error {
	recs := make([]*kgo.Record, len(msgs))
	for i, m := range msgs {
		recs[i] = &kgo.Record{Topic: topic, Key: []byte(m.Metadata.Get("key")), Value: m.Payload}
	}
	if err := p.cl.ProduceSync(context.Background(), recs...).FirstErr(); err != nil {
		return err
	}
	p.n.Add(int64(len(msgs)))
	return nil
}

func (p *kgoPublisher) Close() error { return nil }
