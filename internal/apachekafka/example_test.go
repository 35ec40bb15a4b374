package apachekafka_test

import (
	"context"
	"fmt"
	"os"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/huleedu/huleedu/internal/apachekafka"
)

// A three-broker cluster with a dedicated controller, a topic, and a
// broker killed under a producer and brought back.
func ExampleStart() {
	ctx := context.Background()
	inst, err := apachekafka.Fetch(ctx, os.Stderr) // fetches the jars on first use
	if err != nil {
		fmt.Println(err) // says what to install: Java, Maven
		return
	}
	c, err := apachekafka.Start(ctx, apachekafka.Config{
		Nodes:               3,
		DedicatedController: true,
		Topics:              []string{"events"},
		Install:             inst,
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer c.Close()

	cl, err := kgo.NewClient(kgo.SeedBrokers(c.Addrs()...))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer cl.Close()
	if err := c.Fault(apachekafka.FaultLeaderKill, apachekafka.WithPartitions("events", 0)); err != nil {
		fmt.Println(err)
		return
	}
	// Partition 0 fails over to another replica; the producer follows.
	err = cl.ProduceSync(ctx, &kgo.Record{Topic: "events", Partition: 0, Value: []byte("v")}).FirstErr()
	fmt.Println(err)
	if err := c.Heal(); err != nil { // the broker restarts on its data
		fmt.Println(err)
	}
}
