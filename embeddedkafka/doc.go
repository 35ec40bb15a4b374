// Package embeddedkafka runs an embedded Kafka-protocol cluster (franz-go's
// kfake) with real fault injection: for your own tests of code that
// publishes through kafkabus (as net/http/httptest is for HTTP code), for
// the outage drill, and for local development (`huleedu kafka`, `huleedu
// serve all`). Import it from tests and tools only: no production package
// of this module does (a test fails if one starts to), so a service binary
// carries no fake broker.
//
// Every broker listens on a loopback port that the Cluster owns for its
// whole life. kfake gets its listeners through kfake.ListenFn, so every
// connection a client opens, to a bootstrap address or to an address from
// metadata, passes through the fault layer (package internal/netfault,
// which the Apache Kafka launcher shares). The faults are what a client
// sees on the wire, not mocks:
//
//	cut          every connection reset (RST), new ones reset at once
//	blackhole    connections open but silent; Heal resets them and drops
//	             the bytes they held, so an abandoned request never lands late
//	error        produce answered with a retriable Kafka error (kfake.Fault)
//	slow         every response delayed (WithDelay) past a publish timeout
//	restart      brokers stopped; Heal starts them on the same addresses
//	             from Config.DataDir with every acknowledged record
//	leader-move  partition leadership moves to the next broker, once or
//	             repeatedly until Heal (kfake.MoveTopicPartition)
//
// One fault is active at a time; Heal ends it. ReadAll reads a topic back
// for verification, ReadEnvelopes the same as event envelopes.
//
// Usage:
//
//	c := embeddedkafka.NewTestCluster(t, embeddedkafka.Config{Topics: []string{"t"}})
//	bus, _ := kafkabus.NewKafkaBus(kafkabus.Options{Brokers: c.Addrs()})
//	if err := c.Fault(embeddedkafka.FaultCut); err != nil {
//		t.Fatal(err)
//	}
//	err := bus.Publish(ctx, "t", "key", env) // fails: brokers unreachable
//	if err := c.Heal(); err != nil {
//		t.Fatal(err)
//	}
//	recs, err := embeddedkafka.ReadAll(ctx, c.Addrs(), "t")
//
// The cluster speaks real Kafka protocol on real TCP ports, so kcat and
// other clients can use it too. ReadAll expects topics without
// transaction markers: this project's producers are idempotent, not
// transactional.
package embeddedkafka
