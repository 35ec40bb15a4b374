// Package kafkacontract checks kafkabus's delivery contract (DESIGN.md §2)
// against real Apache Kafka: a three-broker KRaft cluster with a dedicated
// controller that package apachekafka starts once for the whole package
// (TestMain) and that every test shares, healing it when it is done.
//
// Each test runs the contract under one fault a producer meets in
// production, with a memory queue and a disk spool side by side: several
// goroutines publish steadily through a ResilientBus each while the fault
// comes and goes, and an independent consumer then reads every topic back
// and checks that no accepted record is lost or reordered per key,
// counting duplicates. The faults are real: brokers SIGKILLed and
// restarted on their data, the leader of the published partitions
// killed, a broker SIGSTOPped, two of three brokers down (acks=all meets
// NOT_ENOUGH_REPLICAS), the whole cluster down, connections cut or
// blackholed by the proxies in front of the brokers; records Kafka
// refuses for good (max.message.bytes, an unknown topic with
// auto-creation off, a principal an ACL denies) must come back as errors
// without being queued or tripping the breaker; and a publishing process
// SIGKILLed in the middle of an outage must leave a disk spool that the
// next process delivers in full.
//
// Every franz-go record outcome and retry is watched: an idempotent
// producer's sequence errors (OUT_OF_ORDER_SEQUENCE_NUMBER and friends)
// must never stall a partition or reorder it.
//
// The package has test files only. It needs Java 17+ and Kafka's jars
// (scripts/kafka.sh fetch, or fetched on first use with Maven); without
// them its tests are skipped, unless HULEEDU_KAFKA_REQUIRED or CI is set,
// as scripts/test.sh does, where they fail.
//
//	go test -race ./internal/kafkacontract/            # the whole suite, ~3 minutes
//	KC_DEBUG=1 go test -run TestOutage ./internal/kafkacontract/  # with franz-go's log
package kafkacontract
