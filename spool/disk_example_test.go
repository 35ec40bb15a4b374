package spool_test

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/huleedu/huleedu/event"
	"github.com/huleedu/huleedu/spool"
)

func ExampleOpenDisk() {
	dir, _ := os.MkdirTemp("", "spool-example")
	defer os.RemoveAll(dir)
	ctx := context.Background()

	d, err := spool.OpenDisk(dir, spool.DiskOptions{MaxBytes: 64 << 20, Overflow: spool.OverflowReject})
	if err != nil {
		fmt.Println(err)
		return
	}
	// nil means written and fsynced: the records survive a crash.
	err = d.Append(ctx,
		event.Record{Topic: "essay.events", Key: []byte("essay-1"), Value: []byte(`{"n":1}`)},
		event.Record{Topic: "essay.events", Key: []byte("essay-1"), Value: []byte(`{"n":2}`)},
	)
	if err != nil {
		fmt.Println(err)
		return
	}
	// A second opener of the same directory is refused.
	if _, err := spool.OpenDisk(dir, spool.DiskOptions{}); errors.Is(err, spool.ErrLocked) {
		fmt.Println("second open: locked")
	}

	// The drainer: peek from the head, deliver, acknowledge.
	entries, _ := d.Peek(ctx, 100)
	for _, e := range entries {
		fmt.Println(e.Seq, e.Topic, string(e.Value))
	}
	_ = d.Ack(entries[0].Seq)
	fmt.Println("queued:", d.Stats().Records)
	d.Close()

	// What was not acknowledged is there after a restart.
	d, _ = spool.OpenDisk(dir, spool.DiskOptions{})
	defer d.Close()
	entries, _ = d.Peek(ctx, 100)
	fmt.Println("after reopening:", entries[0].Seq, string(entries[0].Value))
	// Output:
	// second open: locked
	// 1 essay.events {"n":1}
	// 2 essay.events {"n":2}
	// queued: 1
	// after reopening: 2 {"n":2}
}

func ExampleInspect() {
	dir, _ := os.MkdirTemp("", "spool-example")
	defer os.RemoveAll(dir)
	d, _ := spool.OpenDisk(dir, spool.DiskOptions{})
	defer d.Close()
	_ = d.Append(context.Background(), event.Record{Topic: "t", Value: []byte("v")})

	// Inspect reads the directory without disturbing the process that
	// holds it.
	r, err := spool.Inspect(dir)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("locked by us:", r.Locked && r.LockPID == os.Getpid())
	fmt.Println("records:", r.Records, "segments:", len(r.Segments), "head:", r.Head)
	// Output:
	// locked by us: true
	// records: 1 segments: 1 head: ok
}

func ExampleDisk_Redrive() {
	dir, _ := os.MkdirTemp("", "spool-example")
	defer os.RemoveAll(dir)
	ctx := context.Background()
	d, _ := spool.OpenDisk(dir, spool.DiskOptions{})
	defer d.Close()
	_ = d.Append(ctx, event.Record{Topic: "deleted-topic", Value: []byte("v")})

	// The drainer dead-letters a record Kafka rejects for good.
	entries, _ := d.Peek(ctx, 1)
	_ = d.DeadLetter(entries[0], "UNKNOWN_TOPIC_OR_PARTITION")
	fmt.Println("queued:", d.Stats().Records, "dead letters:", d.Stats().DeadLetters)

	// Later an operator sends them again; each one is removed once sent.
	n, err := d.Redrive(ctx, func(ctx context.Context, dl spool.DeadLetter) error {
		fmt.Println("sending", dl.ID, dl.Entry.Topic, "dead-lettered for", dl.Reason)
		return nil
	})
	fmt.Println("redriven:", n, err)
	// Output:
	// queued: 0 dead letters: 1
	// sending 1 deleted-topic dead-lettered for UNKNOWN_TOPIC_OR_PARTITION
	// redriven: 1 <nil>
}
