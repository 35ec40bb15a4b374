package main

import (
	"fmt"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/huleedu/huleedu/embeddedkafka"
	"github.com/huleedu/huleedu/kafkaconsumer"
	"github.com/huleedu/huleedu/services/contracts"
)

// kafkaFlags are the flags of `huleedu kafka`.
type kafkaFlags struct {
	brokers        int
	partitions     int
	platformTopics bool
	topics         []string
	dataDir        string
	autoCreate     bool
}

// kafkaCommand returns `huleedu kafka`: the embedded cluster alone, for
// local development against the library or the services.
func (c *cli) kafkaCommand() *cobra.Command {
	var f kafkaFlags
	cmd := &cobra.Command{
		Use:   "kafka",
		Short: "Run only the embedded Kafka-protocol cluster, for local development",
		Long: `kafka starts the embedded Kafka-protocol cluster (franz-go's kfake, in
memory unless --data-dir is given) on free loopback ports, prints its
bootstrap address on stdout, and runs until SIGINT or SIGTERM. Point a
program at it with KAFKA_BOOTSTRAP_SERVERS=<address>.

Topics are not created on produce unless --auto-create is given, as in
production; --platform-topics creates every topic the HuleEdu services use
(each with its <topic>.dlq dead-letter topic), --topic creates others.`,
		Example: `  huleedu kafka --platform-topics
  huleedu kafka --topic orders --topic invoices --partitions 3 --data-dir /tmp/kafka`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return c.runKafka(cmd, f)
		},
	}
	fl := cmd.Flags()
	fl.SortFlags = false
	fl.IntVar(&f.brokers, "brokers", 1, "number of brokers (1-9)")
	fl.IntVar(&f.partitions, "partitions", 3, "partitions of each topic created (1-1000)")
	fl.BoolVar(&f.platformTopics, "platform-topics", false, "create the HuleEdu services' topics and their .dlq topics")
	fl.StringArrayVar(&f.topics, "topic", nil, "create this topic (repeatable)")
	fl.StringVar(&f.dataDir, "data-dir", "", "keep topics and records in this directory across restarts (default: in memory)")
	fl.BoolVar(&f.autoCreate, "auto-create", false, "let producers create topics by producing to them")
	return cmd
}

func (c *cli) runKafka(cmd *cobra.Command, f kafkaFlags) error {
	if f.brokers < 1 || f.brokers > 9 {
		return fmt.Errorf("--brokers %d: must be between 1 and 9", f.brokers)
	}
	if f.partitions < 1 || f.partitions > 1000 {
		return fmt.Errorf("--partitions %d: must be between 1 and 1000", f.partitions)
	}
	topics := append([]string(nil), f.topics...)
	for _, t := range topics {
		if t == "" || strings.ContainsAny(t, " /\\,") || len(t) > 249 {
			return fmt.Errorf("--topic %q: want a Kafka topic name (letters, digits, '.', '_', '-'; at most 249)", t)
		}
	}
	if f.platformTopics {
		topics = append(topics, kafkaconsumer.WithDeadLetterTopics(contracts.Topics())...)
	}
	if f.dataDir != "" {
		if err := os.MkdirAll(f.dataDir, 0o755); err != nil {
			return failed(fmt.Errorf("--data-dir: %w", err))
		}
	}
	cluster, err := embeddedkafka.Start(embeddedkafka.Config{
		Brokers:                f.brokers,
		Partitions:             int32(f.partitions),
		Topics:                 topics,
		DataDir:                f.dataDir,
		AllowAutoTopicCreation: f.autoCreate,
	})
	if err != nil {
		return failed(err)
	}
	defer cluster.Close()

	fmt.Fprintln(c.stdout, strings.Join(cluster.Addrs(), ","))
	fmt.Fprintf(c.stderr, "embedded kafka: %d broker(s) at %s, %d topic(s) created; Ctrl-C to stop\n",
		f.brokers, strings.Join(cluster.Addrs(), ","), len(topics))
	<-cmd.Context().Done()
	fmt.Fprintln(c.stderr, "embedded kafka: stopping")
	return nil
}
