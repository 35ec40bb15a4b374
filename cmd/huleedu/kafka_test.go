package main

import (
	"bufio"
	"context"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/huleedu/huleedu/services/contracts"
)

// startKafkaCommand runs `huleedu kafka args...` in process and returns
// the bootstrap address it printed, and a stop function that interrupts it
// and returns its exit status.
func startKafkaCommand(t *testing.T, args ...string) (addr string, stop func() int) {
	t.Helper()
	pr, pw := io.Pipe()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int, 1)
	go func() {
		done <- newTestCLI(strings.NewReader(""), pw, io.Discard).run(ctx, append([]string{"kafka"}, args...))
		pw.Close()
	}()
	line, err := bufio.NewReader(pr).ReadString('\n')
	go func() { _, _ = io.Copy(io.Discard, pr) }()
	if err != nil {
		cancel()
		t.Fatalf("huleedu kafka printed no address: %v (exit %d)", err, <-done)
	}
	var once bool
	var code int
	stop = func() int {
		if !once {
			once = true
			cancel()
			code = <-done
		}
		return code
	}
	t.Cleanup(func() { stop() })
	return strings.TrimSpace(line), stop
}

func TestKafkaCommandServesThePlatformTopicsUntilInterrupted(t *testing.T) {
	addr, stop := startKafkaCommand(t, "--platform-topics")
	cl, err := kgo.NewClient(kgo.SeedBrokers(strings.Split(addr, ",")...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	topics, err := kadm.NewClient(cl).ListTopics(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{contracts.TopicEssaySpellcheckRequestedV1, contracts.TopicEssaySpellcheckRequestedV1 + ".dlq"} {
		if !topics.Has(want) {
			t.Errorf("topic %s missing; have %v", want, topics.Names())
		}
	}
	if err := cl.ProduceSync(ctx, &kgo.Record{Topic: contracts.TopicEssaySpellcheckRequestedV1, Value: []byte("x")}).FirstErr(); err != nil {
		t.Fatalf("produce to a platform topic: %v", err)
	}
	if code := stop(); code != exitOK {
		t.Fatalf("exit status %d after the interrupt, want 0", code)
	}
}

func TestKafkaCommandCreatesOnlyTheTopicsAsked(t *testing.T) {
	addr, _ := startKafkaCommand(t, "--topic", "orders", "--partitions", "2")
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.UnknownTopicRetries(0))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	details, err := kadm.NewClient(cl).ListTopics(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got := details.Names(); len(got) != 1 || got[0] != "orders" || len(details["orders"].Partitions) != 2 {
		t.Fatalf("topics %v, want only orders with 2 partitions", got)
	}
	// Auto-creation is off unless asked for, as in production.
	if err := cl.ProduceSync(ctx, &kgo.Record{Topic: "typo", Value: []byte("x")}).FirstErr(); err == nil {
		t.Fatal("produce to a topic nobody created succeeded, want UNKNOWN_TOPIC_OR_PARTITION")
	}
}

func TestKafkaCommandRejectsBadFlags(t *testing.T) {
	for _, tc := range []struct{ args, want string }{
		{"--brokers 0", "--brokers 0: must be between 1 and 9"},
		{"--partitions 0", "--partitions 0: must be between 1 and 1000"},
		{"--topic a/b", `--topic "a/b": want a Kafka topic name`},
	} {
		r := runCLI(t, nil, append([]string{"kafka"}, strings.Fields(tc.args)...)...)
		assertCleanUsageError(t, r, tc.want)
	}
}
