// Package spooltest is the conformance suite of the spool.Queue contract:
// every Queue implementation runs it from its own tests, so the memory
// queue and the disk spool are held to the same behaviour.
//
// A test passes a function that opens a new, empty queue for each subtest:
//
//	func TestDiskConformance(t *testing.T) {
//		spooltest.TestQueue(t, func(t *testing.T, cfg spooltest.Config) spool.Queue {
//			q, err := spool.OpenDisk(t.TempDir(), spool.DiskOptions{
//				MaxBytes: cfg.MaxBytes(func(r event.Record) int64 { return spool.FrameSize(&r) }),
//				Overflow: cfg.Overflow,
//			})
//			if err != nil {
//				t.Fatal(err)
//			}
//			t.Cleanup(func() { q.Close() })
//			return q
//		})
//	}
//
// The suite checks order, Peek without removal, Ack semantics, dead
// lettering of the head, Notify, Close, concurrent appenders, all-or-none
// appends and both overflow policies. It never sleeps to wait for a
// condition: it waits on channels with a deadline.
package spooltest
