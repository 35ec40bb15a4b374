package outbox

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"os"
	"time"
)

// Defaults of RelayOptions.
const (
	DefaultBatchSize      = 500
	DefaultPollInterval   = time.Second
	DefaultProduceTimeout = 10 * time.Second
	DefaultLeaseTTL       = 30 * time.Second
	DefaultRetryMin       = 100 * time.Millisecond
	DefaultRetryMax       = 30 * time.Second
	DefaultOpenPoll       = time.Second
	// MaxBatchSize bounds BatchSize: one batch is one produce and one
	// settling transaction.
	MaxBatchSize = 10_000
)

// RelayOptions configure NewRelay. Every zero value means the documented
// default.
type RelayOptions struct {
	// ID names the relay in the lease table, the logs and the operator
	// commands. Default: host name, process id and a random suffix, so a
	// restarted process is a new relay. (A relay that keeps its ID across
	// a restart takes its own leases back at once, without waiting for
	// them to expire; give each concurrently running relay a distinct
	// one.)
	ID string

	// BatchSize is the most rows one produce carries (OUTBOX_BATCH_SIZE),
	// 1 to MaxBatchSize. Default 500. While the breaker is half-open the
	// relay probes with one row.
	BatchSize int

	// PollInterval is how often the relay looks for rows when nothing
	// woke it (OUTBOX_POLL_INTERVAL_SECONDS). On PostgreSQL a NOTIFY from
	// the enqueuing transaction wakes it within milliseconds of the
	// commit, and polling is the fallback for a lost LISTEN connection;
	// on SQLite in-process commits wake it, other processes' are polled.
	// Default 1s.
	PollInterval time.Duration

	// ProduceTimeout bounds one batch's produce, retries included: the
	// context handed to the Producer ends then. Keep the Producer's own
	// timeout (kafkabus.Options.PublishTimeout) at or below it. Default
	// 10s.
	ProduceTimeout time.Duration

	// LeaseTTL is how long a lease lasts without renewal; the relay
	// renews every third of it. A relay that dies holds its partitions
	// until its leases expire, then the others take them over. A relay
	// starts a batch only while each partition's lease has at least 1.5
	// ProduceTimeouts left, so a batch in flight ends before the lease
	// can pass to another relay: no row is in flight in two relays at
	// once. At least 2.5 x ProduceTimeout. Default 30s.
	LeaseTTL time.Duration

	// RetryMin and RetryMax bound the back-off of a row that failed with
	// a retriable error: RetryMin doubled for every failed attempt, up to
	// RetryMax, with ±20% jitter, and never given up. They also space the
	// relay's retries after a database error. Defaults 100ms and 30s.
	RetryMin, RetryMax time.Duration

	// OpenPoll is the longest the relay waits while the breaker is open
	// before asking it again; it also waits no longer than the breaker's
	// announced probe time, and wakes when the breaker leaves the open
	// state. Default 1s.
	OpenPoll time.Duration

	// Retention keeps published rows for this long (marked published_at)
	// before the relay prunes them, for operators who want to see what
	// was sent. Default 0: a row is deleted as soon as Kafka
	// acknowledged it.
	Retention time.Duration

	// Now is the clock of the rows' times: retry schedules and the
	// latency from created_at to Kafka's acknowledgement. Lease times are
	// the database's. Default time.Now.
	Now func() time.Time

	// Latency, when set, observes the seconds from each published row's
	// created_at (its commit, give or take the rest of its transaction)
	// to Kafka's acknowledgement. observability.NewOutboxPublishLatency
	// fits.
	Latency interface{ Observe(float64) }

	// Logger receives the relay's events (nil: discard).
	Logger *slog.Logger
}

// withDefaults validates o and fills in the defaults.
func (o RelayOptions) withDefaults() (RelayOptions, error) {
	durations := []struct {
		name string
		v    *time.Duration
		def  time.Duration
	}{
		{"PollInterval", &o.PollInterval, DefaultPollInterval},
		{"ProduceTimeout", &o.ProduceTimeout, DefaultProduceTimeout},
		{"LeaseTTL", &o.LeaseTTL, DefaultLeaseTTL},
		{"RetryMin", &o.RetryMin, DefaultRetryMin},
		{"RetryMax", &o.RetryMax, DefaultRetryMax},
		{"OpenPoll", &o.OpenPoll, DefaultOpenPoll},
	}
	for _, d := range durations {
		if *d.v < 0 {
			return o, fmt.Errorf("outbox: RelayOptions.%s is %v: want > 0 (0 means the default %v)", d.name, *d.v, d.def)
		}
		if *d.v == 0 {
			*d.v = d.def
		}
	}
	if o.Retention < 0 {
		return o, fmt.Errorf("outbox: RelayOptions.Retention is %v: want >= 0 (0 deletes rows once published)", o.Retention)
	}
	if o.BatchSize < 0 || o.BatchSize > MaxBatchSize {
		return o, fmt.Errorf("outbox: RelayOptions.BatchSize is %d: want 1 to %d (0 means %d)", o.BatchSize, MaxBatchSize, DefaultBatchSize)
	}
	if o.BatchSize == 0 {
		o.BatchSize = DefaultBatchSize
	}
	if o.RetryMax < o.RetryMin {
		return o, fmt.Errorf("outbox: RelayOptions.RetryMax is %v: want >= RetryMin (%v)", o.RetryMax, o.RetryMin)
	}
	if o.LeaseTTL < o.ProduceTimeout*5/2 {
		return o, fmt.Errorf("outbox: RelayOptions.LeaseTTL is %v: want at least 2.5 x ProduceTimeout (%v), so a batch in flight ends before its lease can expire",
			o.LeaseTTL, o.ProduceTimeout*5/2)
	}
	if o.ID == "" {
		o.ID = defaultRelayID()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return o, nil
}

// defaultRelayID is host-pid-random: unique per process start.
func defaultRelayID() string {
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "relay"
	}
	var b [3]byte
	_, _ = rand.Read(b[:])
	return fmt.Sprintf("%s-%d-%s", host, os.Getpid(), hex.EncodeToString(b[:]))
}
