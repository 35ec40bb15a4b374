package contracts_test

import (
	"context"
	"fmt"

	"github.com/huleedu/huleedu/event"
	"github.com/huleedu/huleedu/services/contracts"
	"github.com/huleedu/huleedu/services/contracts/contractstest"
)

func ExamplePublisher_Publish() {
	bus := contractstest.NewBus() // in a service: servicekit's kafkabus.Bus
	pub, _ := contracts.NewPublisher(bus, "essay_lifecycle_service", nil)
	msg := contracts.Message{
		EventType: event.TypeBatchEssaysReady,
		Key:       "batch-1",
		Identity:  []string{"batch-1"}, // one BatchEssaysReady per batch
		Data:      contracts.BatchEssaysReady{BatchID: "batch-1"},
	}
	// A retried handler publishes again: same event id, so consumers drop it.
	_ = pub.Publish(context.Background(), msg)
	_ = pub.Publish(context.Background(), msg)
	all := bus.All()
	fmt.Println(all[0].Topic)
	fmt.Println(all[0].Envelope.EventID == all[1].Envelope.EventID)
	// Output:
	// huleedu.els.batch.essays.ready.v1
	// true
}
