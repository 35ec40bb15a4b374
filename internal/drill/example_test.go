package drill_test

import (
	"context"
	"fmt"
	"time"

	"github.com/huleedu/huleedu/internal/drill"
	"github.com/huleedu/huleedu/kafkabus"
)

// A two-second drill on the embedded cluster with a one-second connection
// cut in the middle, spooling to a memory queue.
func ExampleRun() {
	cfg := drill.Config{
		Duration: 2 * time.Second,
		Rate:     100,
		Keys:     10,
		Workers:  4,
		Fault:    "cut",
		Outages:  []drill.Outage{{Start: 500 * time.Millisecond, Length: time.Second}},
	}
	// The bus under test: the kafkabus.Config a service would run.
	cfg.Fallback.Mode = kafkabus.FallbackMemory
	cfg.Breaker = kafkabus.BreakerConfig{FailureThreshold: 2, RecoveryTimeout: 200 * time.Millisecond}
	rep, err := drill.Run(context.Background(), cfg)
	if err != nil {
		fmt.Println("could not run:", err)
		return
	}
	fmt.Printf("sent %d, lost %d, reordered %d, passed %v\n", rep.Sent, rep.Lost, rep.Reordered, rep.Passed)
	// Output: sent 200, lost 0, reordered 0, passed true
}

func ExampleParseOutage() {
	o, err := drill.ParseOutage("10s@8s")
	fmt.Println(o.Start, o.End(), err)
	// Output: 8s 18s <nil>
}

// The verifier on a hand-made read-back: seq 3 was accepted but never
// arrived, seq 2 arrived twice (a replay) and seq 5 came before seq 4 of
// the same key.
func ExampleVerify() {
	accepted := []bool{false, true, true, true, true, true} // seqs 1..5, all accepted
	read := []drill.Delivery{
		{Partition: 0, Offset: 0, Key: "k", Seq: 1},
		{Partition: 0, Offset: 1, Key: "k", Seq: 2},
		{Partition: 0, Offset: 2, Key: "k", Seq: 2},
		{Partition: 0, Offset: 3, Key: "k", Seq: 5},
		{Partition: 0, Offset: 4, Key: "k", Seq: 4},
	}
	v := drill.Verify(accepted, read)
	fmt.Printf("lost %v, duplicates %d, reordered %v, passed %v\n", v.LostSeqs, v.Duplicates, v.ReorderedSeqs, v.Passed())
	// Output: lost [3], duplicates 1, reordered [4], passed false
}
