package kafkabus

import "fmt"

// acker batches acknowledgements across replay batches: an Ack of the
// disk spool persists the head with an fsync, so acknowledging every few
// thousand records instead of every batch keeps the drain from waiting on
// the disk, and those periodic Acks run in the background while the drain
// goes on. Records delivered but not yet acknowledged are replayed again
// after a crash: duplicates, never loss. Owned by the drainer goroutine,
// but for the background Ack, which reports only through ackIn.
type acker struct {
	b     *ResilientBus
	seq   uint64     // highest delivered seq not yet acknowledged
	count int        // records delivered and not yet handed to an Ack
	ackIn chan error // non-nil while an Ack runs in the background: its result
}

// ackEvery is how many delivered records wait for one Ack: at least this
// many, more while the previous Ack is still writing (see flushBehind).
const ackEvery = 4096

func (a *acker) delivered(seq uint64) { a.seq, a.count = seq, a.count+1 }

// owes reports whether anything delivered is not yet acknowledged.
func (a *acker) owes() bool { return a.count > 0 || a.ackIn != nil }

// flush acknowledges everything delivered so far and waits for it. If an
// Ack fails, what was delivered since the last good one is dropped all the
// same: the drainer then replays from the head, and those records are
// counted again when they are delivered again.
func (a *acker) flush() error {
	seq, count, err := a.take()
	if err != nil || count == 0 {
		return err
	}
	return a.b.ack(seq, count)
}

// flushBehind hands everything delivered so far to an Ack in the
// background; the error is the previous one's. While the previous Ack is
// still writing the head file it does nothing: the drain goes on rather
// than wait for that fsync, and the next call acknowledges what was
// delivered meanwhile as well.
func (a *acker) flushBehind() error {
	if running, err := a.reap(false); running || err != nil {
		return err
	}
	seq, count, err := a.take()
	if err != nil || count == 0 {
		return err
	}
	done := make(chan error, 1)
	a.ackIn = done
	go func() { done <- a.b.ack(seq, count) }()
	return nil
}

// take returns what was delivered since the last Ack and clears it, once
// the background Ack, if one runs, has finished; an error is that Ack's.
func (a *acker) take() (seq uint64, count int, err error) {
	if _, err := a.reap(true); err != nil {
		return 0, 0, err
	}
	seq, count = a.seq, a.count
	a.count = 0
	return seq, count, nil
}

// reap collects the result of the background Ack, if one runs: waiting
// for it if block, else only if it has finished (running reports one still
// under way). A failed Ack drops the count, as flush explains.
func (a *acker) reap(block bool) (running bool, err error) {
	if a.ackIn == nil {
		return false, nil
	}
	if block {
		err = <-a.ackIn
	} else {
		select {
		case err = <-a.ackIn:
		default:
			return true, nil
		}
	}
	a.ackIn = nil
	if err != nil {
		a.count = 0
	}
	return false, err
}

// ack acknowledges count delivered records, up to seq, and only then
// counts them out of the backlog: a publisher that sees the backlog at
// zero may go straight to Kafka.
func (b *ResilientBus) ack(seq uint64, count int) error {
	if err := b.q.Ack(seq); err != nil {
		return fmt.Errorf("acknowledging up to seq %d: %w", seq, err)
	}
	b.backlog.Add(-int64(count))
	b.replayed.Add(uint64(count))
	return nil
}
