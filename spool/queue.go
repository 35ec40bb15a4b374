package spool

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/huleedu/huleedu/event"
)

// Entry is a record stored in a Queue.
type Entry struct {
	// Seq is the entry's position in the queue's total order: strictly
	// increasing in append order, never reused for the life of the queue
	// (a disk spool persists it across restarts).
	Seq uint64
	// AppendedAt is when the entry was accepted.
	AppendedAt time.Time
	event.Record
}

// Overflow says what Append does when the queue is full.
type Overflow int

const (
	// OverflowBlock makes Append wait until there is room or its context
	// ends. It is the default: nothing is refused while a caller can wait.
	OverflowBlock Overflow = iota
	// OverflowReject makes Append fail at once with ErrFull.
	OverflowReject
)

// String returns "block" or "reject".
func (o Overflow) String() string {
	switch o {
	case OverflowBlock:
		return "block"
	case OverflowReject:
		return "reject"
	}
	return fmt.Sprintf("Overflow(%d)", int(o))
}

// ParseOverflow parses "block" or "reject".
func ParseOverflow(s string) (Overflow, error) {
	switch s {
	case "block":
		return OverflowBlock, nil
	case "reject":
		return OverflowReject, nil
	}
	return 0, fmt.Errorf("spool: unknown overflow policy %q (want block or reject)", s)
}

// Errors callers branch on. Returned errors wrap them with context.
var (
	// ErrFull: the queue is at its limit and the overflow policy is reject
	// (or the caller's context ended while blocked, wrapped together with
	// the context's error). Nothing was stored.
	ErrFull = errors.New("spool: queue full")
	// ErrTooLarge: one record exceeds the queue's whole limit, so no
	// amount of draining could make room for it. Nothing was stored.
	ErrTooLarge = errors.New("spool: record larger than the queue limit")
	// ErrClosed: the queue was closed. Nothing was stored.
	ErrClosed = errors.New("spool: closed")
	// ErrLocked: another process holds the spool directory.
	ErrLocked = errors.New("spool: locked by another process")
	// ErrNotSpool: the directory an operator function (or OpenDisk with
	// DiskOptions.Existing) was given does not exist or is not a spool
	// directory. Nothing was created or changed.
	ErrNotSpool = errors.New("spool: not a spool directory")
	// ErrFailed: a write or fsync failed. The disk spool refuses appends
	// until a probe in the background finds the storage working again
	// (Stats.Failed says since when, why, and when the next probe runs);
	// what was accepted before stays readable and drainable.
	ErrFailed = errors.New("spool: storage failed")
)

// Stats describe a queue's contents.
type Stats struct {
	Records     int64     `json:"records"`
	Bytes       int64     `json:"bytes"`
	OldestAt    time.Time `json:"oldest_at,omitzero"` // AppendedAt of the head; zero when empty
	MaxRecords  int64     `json:"max_records,omitempty"`
	MaxBytes    int64     `json:"max_bytes,omitempty"`
	Segments    int       `json:"segments,omitempty"`    // disk only
	DeadLetters int64     `json:"dead_letters"`          // entries in the dead-letter store
	Quarantined int       `json:"quarantined,omitempty"` // damaged ranges moved aside, on open and while reading (disk only)
	// Failed is set while the disk spool refuses appends after a write or
	// fsync failure (ErrFailed), nil otherwise.
	Failed *StorageFailure `json:"failed,omitempty"`
	// MissingRecords counts the records found missing from the disk
	// spool's sequence since it was opened: gaps between the head and the
	// tail found on open (a segment deleted or cut short behind the
	// spool's back, damage quarantined), and records in damaged ranges
	// quarantined while reading. Gaps lists the first 16 such ranges.
	MissingRecords int64 `json:"missing_records,omitempty"`
	Gaps           []Gap `json:"gaps,omitempty"`
}

// Gap is a range of seqs missing from a disk spool: records that were
// stored, as the records around them (or the head file, or a segment's
// name) prove, and that are gone.
type Gap struct {
	First uint64 `json:"first"` // the first missing seq
	Last  uint64 `json:"last"`  // the last missing seq
	// Records is how many records are missing in [First, Last]: all of
	// them, but where part of the range was already known to be missing.
	Records int64 `json:"records"`
}

// String returns "First-Last", or "First" for a single seq.
func (g Gap) String() string {
	if g.First == g.Last {
		return strconv.FormatUint(g.First, 10)
	}
	return strconv.FormatUint(g.First, 10) + "-" + strconv.FormatUint(g.Last, 10)
}

// StorageFailure describes a disk spool that refuses appends because its
// storage failed. It probes the storage in the background and accepts
// appends again, on its own, once a probe succeeds.
type StorageFailure struct {
	// Cause is the write or fsync error that started it
	// ("write /x/00000000000000000001.seg: no space left on device").
	Cause string `json:"cause"`
	// Since is when the write failed.
	Since time.Time `json:"since"`
	// NextProbe is when the storage is probed next.
	NextProbe time.Time `json:"next_probe_at"`
	// Probes counts the probes that failed since.
	Probes int `json:"probes"`
}

// Queue is a FIFO of records that keeps everything it accepted until it is
// acknowledged. ResilientBus appends to it while Kafka is unavailable and a
// drainer replays it from the head.
//
// All methods are safe for concurrent use. The contract every implementation
// keeps (and the shared conformance tests check):
//
//   - Append(ctx, recs...) stores all recs at the tail, in order, or none of
//     them. nil means stored (the disk spool: written and fsynced). An error
//     means nothing was stored. The recs slice itself is not kept after
//     Append returns (the records' byte slices may be: the memory queue
//     keeps them), so a caller may reuse it.
//   - Peek(ctx, max) returns up to max entries from the head, oldest first,
//     without removing them; an empty slice when the queue is empty. Entries
//     stay until Ack or DeadLetter removes them. Their byte slices may be
//     shared with the queue and with other Peeks' entries (the memory
//     queue's are the appended records', the disk spool's alias its read
//     buffers), so callers read them and never write to them. They are
//     valid until the entry is acknowledged or dead-lettered: the disk
//     spool then fills those buffers again, so copy what must outlive that.
//   - Ack(seq) removes every entry with Seq <= seq. Acknowledging past the
//     tail is an error and removes nothing.
//   - DeadLetter(e, reason) moves the head entry e (which must be the head)
//     to the dead-letter store: afterwards it is there and no longer queued.
//   - Notify's channel receives after appends, so a drainer can sleep while
//     the queue is empty; it has capacity one and never blocks Append.
//   - Close stops the queue; later calls fail with ErrClosed. For the disk
//     spool everything unacknowledged stays on disk.
type Queue interface {
	Append(ctx context.Context, recs ...event.Record) error
	Peek(ctx context.Context, max int) ([]Entry, error)
	Ack(seq uint64) error
	DeadLetter(e Entry, reason string) error
	Stats() Stats
	Notify() <-chan struct{}
	Close() error
}

// ReadAhead is implemented by queues that can read past entries not yet
// acknowledged, so that a drainer keeps several batches in flight: it reads
// the next batch while the previous ones are being produced, and
// acknowledges them in order as their results arrive. Both queues of this
// package implement it.
type ReadAhead interface {
	// PeekAfter returns up to max entries with Seq > after, oldest first,
	// without removing any. Like Peek it returns an empty slice when there
	// are none.
	PeekAfter(ctx context.Context, after uint64, max int) ([]Entry, error)
}

// DeadLetter is an entry that Kafka rejected for good during replay, kept
// with the reason until an operator re-drives or purges it.
type DeadLetter struct {
	ID     uint64    `json:"id"`
	Entry  Entry     `json:"entry"`
	Reason string    `json:"reason"`
	At     time.Time `json:"at"`
}

// MarshalText encodes the policy as "block" or "reject".
func (o Overflow) MarshalText() ([]byte, error) {
	if o != OverflowBlock && o != OverflowReject {
		return nil, fmt.Errorf("spool: invalid overflow policy %d", int(o))
	}
	return []byte(o.String()), nil
}

// UnmarshalText parses "block" or "reject", so the policy can be read from
// configuration.
func (o *Overflow) UnmarshalText(b []byte) error {
	v, err := ParseOverflow(string(b))
	if err != nil {
		return err
	}
	*o = v
	return nil
}
