//go:build !race

package kafkabus

import (
	"context"
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/huleedu/huleedu/event"
)

// A replay batch through ProduceAsync allocates a handful of objects per
// call (the outcomes, the call's context), nothing per record beyond what
// franz-go itself does: its franz-go records, headers and promises are
// reused across calls. Measured against franz-go producing the same
// records, prebuilt, with one promise per batch, on the same in-process
// broker, whose allocations count on both sides alike.
func TestProduceAsyncDoesNotAllocatePerRecord(t *testing.T) {
	kb := newOneBrokerBus(t)
	t.Cleanup(func() { kb.Close(context.Background()) })

	const batch = 500
	recs := make([]event.Record, batch)
	krs := make([]kgo.Record, batch)
	for i := range recs {
		recs[i] = event.Record{Topic: busTopic, Key: []byte("k"), Value: []byte("v"),
			Headers: []event.Header{{Key: "event_id", Value: []byte("id")}, {Key: "event_type", Value: []byte("t")}}}
		krs[i] = kgo.Record{Topic: busTopic, Key: recs[i].Key, Value: recs[i].Value,
			Headers: []kgo.RecordHeader{{Key: "event_id", Value: []byte("id")}, {Key: "event_type", Value: []byte("t")}}}
	}
	ctx := context.Background()
	done := make(chan []error, 1)
	report := func(errs []error) { done <- errs }
	left, rawDone := 0, make(chan struct{}, 1)
	var rawErr error
	promise := func(_ *kgo.Record, err error) {
		if err != nil {
			rawErr = err
		}
		if left--; left == 0 { // promises of one client run one at a time
			rawDone <- struct{}{}
		}
	}
	const calls = 20
	raw := mallocsPerCall(calls, func() {
		left = batch
		for i := range krs {
			krs[i].Partition, krs[i].Offset = 0, 0
			kb.client.Produce(ctx, &krs[i], promise)
		}
		<-rawDone
		if rawErr != nil {
			t.Fatal(rawErr)
		}
	}) / batch
	ours := mallocsPerCall(calls, func() {
		kb.ProduceAsync(ctx, recs, report)
		for i, err := range <-done {
			if err != nil {
				t.Fatalf("record %d: %v", i, err)
			}
		}
	}) / batch
	t.Logf("heap allocations per record: ProduceAsync %.3f, franz-go alone %.3f", ours, raw)
	if ours-raw > 0.25 {
		t.Fatalf("ProduceAsync: %.3f allocations per record, franz-go alone %.3f: want no more than a few per batch", ours, raw)
	}
}
