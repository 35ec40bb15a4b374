package outbox

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/huleedu/huleedu/event"
	"github.com/huleedu/huleedu/kafkabus"
	"github.com/huleedu/huleedu/resilience"
)

// Relay publishes the outbox's pending rows to Kafka through a producer
// behind a circuit breaker, in order per topic and key, and marks a row
// done only after Kafka acknowledged it. Several relays on one table
// (replicas of a service) share the work through leases on the table's
// partitions. See the package documentation for the guarantees.
type Relay struct {
	store    Store
	producer kafkabus.Producer
	cb       *resilience.CircuitBreaker
	opts     RelayOptions
	log      *slog.Logger

	published, failed, deadLettered, errors atomic.Uint64
	leases                                  atomic.Int64
	running                                 atomic.Bool
}

// RelayStats are a relay's counters since it was made, for metrics.
type RelayStats struct {
	ID string
	// Running is true while Run runs.
	Running bool
	// Published counts rows Kafka acknowledged; Failed, publish attempts
	// that failed with a retriable error (the row is retried);
	// DeadLettered, rows Kafka rejected for good.
	Published, Failed, DeadLettered uint64
	// Errors counts the relay's database failures (reads, settling,
	// leases); each is retried.
	Errors uint64
	// Leases is how many lease partitions the relay holds now.
	Leases int
}

// NewRelay returns a relay for ob's table that publishes through producer
// (a *kafkabus.KafkaBus: acks=all, idempotent) behind cb (the service's
// "<service>.kafka_producer" breaker). Run starts it.
func NewRelay(ob *Outbox, producer kafkabus.Producer, cb *resilience.CircuitBreaker, opts RelayOptions) (*Relay, error) {
	if ob == nil {
		return nil, errors.New("outbox: NewRelay: outbox is nil")
	}
	if producer == nil {
		return nil, errors.New("outbox: NewRelay: producer is nil")
	}
	if cb == nil {
		return nil, errors.New("outbox: NewRelay: breaker is nil: the relay publishes behind the Kafka producer breaker")
	}
	o, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	return &Relay{store: ob.store, producer: producer, cb: cb, opts: o,
		log: o.Logger.With("relay", o.ID)}, nil
}

// ID returns the relay's id in the lease table.
func (r *Relay) ID() string { return r.opts.ID }

// Stats returns the relay's counters.
func (r *Relay) Stats() RelayStats {
	return RelayStats{
		ID: r.opts.ID, Running: r.running.Load(),
		Published: r.published.Load(), Failed: r.failed.Load(), DeadLettered: r.deadLettered.Load(),
		Errors: r.errors.Load(), Leases: int(r.leases.Load()),
	}
}

// flight is the batch being produced: one at a time, so that a row is
// handed to the producer only after every earlier row of its key was
// settled (acknowledged, scheduled for a retry, or dead).
type flight struct {
	rows   []Row
	recs   []event.Record
	parts  map[int]bool
	permit *resilience.Permit
	errs   []error       // set before done is closed
	done   chan struct{} // closed when the producer returned
}

// state is Run's own: only the Run goroutine touches it.
type state struct {
	held      map[int]time.Time // partition -> end of its lease, on this process's clock
	draining  map[int]bool      // held beyond the fair share: no new batches, released at a tick
	share     int
	nextTick  time.Time
	tickRetry time.Duration
	flight    *flight
	more      bool          // the last read filled a batch: read again at once
	dbRetry   time.Duration // back-off after a database error
	nextPrune time.Time
}

// Run relays until ctx ends, then finishes and settles the batch in
// flight (at most ProduceTimeout), releases its leases so other relays
// take over at once, and returns nil. Kafka and database failures do not
// end it: it retries them (see RelayOptions). Call Run once.
func (r *Relay) Run(ctx context.Context) error {
	if !r.running.CompareAndSwap(false, true) {
		return fmt.Errorf("outbox: relay %s: Run is already running", r.opts.ID)
	}
	defer r.running.Store(false)

	wake := make(chan struct{}, 1)
	listenCtx, stopListen := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Go(func() { _ = r.store.Listen(listenCtx, wake) })
	defer wg.Wait()
	defer stopListen()

	breakerMoved := make(chan struct{}, 1)
	defer r.cb.Subscribe(func(_ string, from, _ resilience.State) {
		if from == resilience.StateOpen {
			signal(breakerMoved)
		}
	})()

	s := &state{held: map[int]time.Time{}, draining: map[int]bool{}, dbRetry: r.opts.RetryMin, tickRetry: r.opts.RetryMin}
	defer r.stop(ctx, s)
	r.log.Info("outbox relay started", "lease_ttl", r.opts.LeaseTTL, "batch_size", r.opts.BatchSize)

	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		if ctx.Err() != nil {
			return nil
		}
		if !time.Now().Before(s.nextTick) {
			r.tick(ctx, s)
		}
		if r.opts.Retention > 0 && s.flight == nil && !time.Now().Before(s.nextPrune) {
			r.prune(ctx, s)
		}
		wait, onWake := time.Until(s.nextTick), false
		if r.opts.Retention > 0 {
			wait = min(wait, time.Until(s.nextPrune))
		}
		if s.flight == nil {
			var w time.Duration
			w, onWake = r.start(ctx, s)
			wait = min(wait, w)
			if s.flight == nil && w == 0 {
				continue
			}
		}
		var done <-chan struct{}
		if s.flight != nil {
			done, onWake = s.flight.done, false
		}
		var wakeC <-chan struct{}
		if onWake {
			wakeC = wake
		}
		timer.Reset(max(wait, 0))
		select {
		case <-done:
			r.settle(ctx, s)
		case <-wakeC:
		case <-breakerMoved:
		case <-timer.C:
		case <-ctx.Done():
		}
		if !timer.Stop() {
			select {
			case <-timer.C:
			default:
			}
		}
	}
}

// tick renews, releases and takes leases.
func (r *Relay) tick(ctx context.Context, s *state) {
	start := time.Now()
	var release []int
	for p := range s.draining {
		if s.flight == nil || !s.flight.parts[p] {
			release = append(release, p)
		}
	}
	st, err := r.store.Leases(ctx, LeaseTick{RelayID: r.opts.ID, TTL: r.opts.LeaseTTL, Release: release, Acquire: true})
	if err != nil {
		if ctx.Err() != nil {
			return
		}
		r.errors.Add(1)
		r.log.Error("outbox relay could not renew its leases; retrying", "err", err, "retry_in", s.tickRetry)
		s.nextTick = start.Add(s.tickRetry)
		s.tickRetry = min(2*s.tickRetry, r.opts.LeaseTTL/3)
		return
	}
	s.tickRetry = r.opts.RetryMin
	until := start.Add(r.opts.LeaseTTL)
	held := make(map[int]time.Time, len(st.Held))
	for _, p := range st.Held {
		held[p] = until
	}
	gained, lost := 0, 0
	for p := range held {
		if _, ok := s.held[p]; !ok {
			gained++
		}
	}
	for p := range s.held {
		if _, ok := held[p]; !ok && !contains(release, p) {
			lost++
		}
	}
	s.held, s.share = held, st.Share
	// Beyond the fair share: the highest partitions are given up, once
	// no batch of theirs is in flight.
	s.draining = map[int]bool{}
	if len(held) > st.Share {
		for _, p := range sortedKeys(held)[st.Share:] {
			s.draining[p] = true
		}
	}
	r.leases.Store(int64(len(held)))
	if gained > 0 || lost > 0 || len(release) > 0 {
		r.log.Info("outbox relay leases changed", "held", len(held), "gained", gained, "lost", lost,
			"released", len(release), "relays", st.Relays, "share", st.Share)
	}
	s.nextTick = start.Add(r.opts.LeaseTTL / 3)
}

// usable returns the partitions a batch may be read from now: held, not
// draining, and with enough lease left for a produce to end before it
// expires.
func (r *Relay) usable(s *state) []int {
	guard := time.Now().Add(r.opts.ProduceTimeout * 3 / 2)
	var ps []int
	for _, p := range sortedKeys(s.held) {
		if s.held[p].After(guard) && !s.draining[p] {
			ps = append(ps, p)
		}
	}
	return ps
}

// start reads a batch and hands it to the producer. Without one started,
// it returns how long to wait, and whether a wake-up (a commit) may end
// the wait early: not while the breaker is open or the database failing,
// where new rows change nothing.
func (r *Relay) start(ctx context.Context, s *state) (wait time.Duration, onWake bool) {
	parts := r.usable(s)
	if len(parts) == 0 {
		return r.opts.PollInterval, false
	}
	if !s.more {
		// The last read drained what was due; new commits wake us.
		s.more = true
		return r.opts.PollInterval, true
	}
	closed := r.cb.State() == resilience.StateClosed
	permit, err := r.cb.Acquire(ctx)
	if err != nil {
		return r.untilProbe(err), false
	}
	limit := r.opts.BatchSize
	if !closed {
		limit = 1 // probe with one row while half-open
	}
	rows, err := r.store.Pending(ctx, parts, r.opts.Now(), limit)
	if err != nil || len(rows) == 0 {
		permit.ReportOutcome(resilience.OutcomeIgnore) // nothing was sent
		if err != nil {
			if ctx.Err() != nil {
				return 0, false
			}
			r.errors.Add(1)
			r.log.Error("outbox relay could not read pending rows; retrying", "err", err, "retry_in", s.dbRetry)
			wait, s.dbRetry = s.dbRetry, min(2*s.dbRetry, r.opts.RetryMax)
			return wait, false
		}
		s.dbRetry = r.opts.RetryMin
		// Nothing due now: wait for a commit's wake-up (or the poll),
		// and read at once when it comes. (Clearing more here would
		// make the next start only arm the wait again, swallowing that
		// wake-up until the poll.)
		return r.opts.PollInterval, true
	}
	s.dbRetry = r.opts.RetryMin
	s.more = len(rows) == limit
	f := &flight{rows: rows, recs: make([]event.Record, len(rows)), parts: map[int]bool{}, permit: permit, done: make(chan struct{})}
	for i := range rows {
		f.recs[i] = rows[i].Record()
		f.parts[rows[i].Partition] = true
	}
	// Not canceled with ctx: at shutdown the batch in flight finishes and
	// is settled, rather than being abandoned with an unknown outcome.
	pctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), r.opts.ProduceTimeout)
	go func() {
		defer close(f.done)
		defer cancel()
		f.errs = r.producer.Produce(pctx, f.recs)
	}()
	s.flight = f
	return 0, false
}

// settle records the outcome of the batch in flight: published rows done,
// retriable failures scheduled with back-off, rejections dead-lettered;
// and tells the breaker.
func (r *Relay) settle(ctx context.Context, s *state) {
	f := s.flight
	s.flight = nil
	now := r.opts.Now()
	st := Settlement{At: now, Keep: r.opts.Retention > 0}
	var retriable error
	for i := range f.rows {
		row, err := &f.rows[i], f.errs[i]
		switch {
		case err == nil:
			st.Published = append(st.Published, row.ID)
			if r.opts.Latency != nil {
				r.opts.Latency.Observe(max(now.Sub(row.CreatedAt).Seconds(), 0))
			}
		case kafkabus.IsRetriable(err) || errors.Is(err, context.Canceled):
			if retriable == nil {
				retriable = err
			}
			st.Retry = append(st.Retry, Failure{ID: row.ID, Err: err.Error(), NextAttemptAt: now.Add(r.backoff(row.Attempts + 1))})
		default:
			st.Dead = append(st.Dead, Failure{ID: row.ID, Err: err.Error()})
		}
	}
	r.published.Add(uint64(len(st.Published)))
	switch {
	case retriable != nil:
		f.permit.Report(retriable)
	case len(st.Published) > 0:
		f.permit.Report(nil)
	default:
		// Rejected for good: the records' fault, not Kafka's health.
		f.permit.ReportOutcome(resilience.OutcomeIgnore)
	}
	if retriable != nil {
		r.log.Warn("outbox publish failed; the rows will be retried", "rows", len(st.Retry), "err", retriable)
		// Back off before reading again; the breaker decides the rest.
		s.more = true
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), r.opts.ProduceTimeout)
	defer cancel()
	if err := r.store.Settle(sctx, st); err != nil {
		r.errors.Add(1)
		r.log.Error("outbox relay could not record published rows; they will be published again",
			"err", err, "published", len(st.Published), "retry", len(st.Retry), "dead", len(st.Dead))
		return
	}
	r.failed.Add(uint64(len(st.Retry)))
	r.deadLettered.Add(uint64(len(st.Dead)))
	for i, d := range st.Dead {
		row := findRow(f.rows, d.ID)
		r.log.Warn("outbox row rejected by Kafka moved to the dead letters",
			"id", d.ID, "topic", row.Topic, "key", row.Key, "event_id", row.EventID, "reason", d.Err)
		if i == 9 && len(st.Dead) > 10 {
			r.log.Warn("outbox rows rejected by Kafka moved to the dead letters", "more", len(st.Dead)-10)
			break
		}
	}
}

func findRow(rows []Row, id int64) *Row {
	for i := range rows {
		if rows[i].ID == id {
			return &rows[i]
		}
	}
	return &Row{}
}

// prune deletes published rows older than Retention from the relay's
// partitions, a bounded chunk at a time.
func (r *Relay) prune(ctx context.Context, s *state) {
	s.nextPrune = time.Now().Add(min(max(r.opts.Retention/10, 100*time.Millisecond), time.Minute))
	n, err := r.store.Prune(ctx, sortedKeys(s.held), r.opts.Now().Add(-r.opts.Retention), 10_000)
	if err != nil && ctx.Err() == nil {
		r.errors.Add(1)
		r.log.Error("outbox relay could not prune published rows; retrying later", "err", err)
		return
	}
	if n == 10_000 {
		s.nextPrune = time.Now() // more to do: again after the next batch
	}
}

// backoff is the wait before attempt n+1 of a row that failed n times:
// RetryMin doubled per failure up to RetryMax, with ±20% jitter.
func (r *Relay) backoff(failures int) time.Duration {
	d := r.opts.RetryMax
	if failures < 40 {
		d = min(r.opts.RetryMin<<max(failures-1, 0), r.opts.RetryMax)
		if d <= 0 {
			d = r.opts.RetryMax
		}
	}
	return time.Duration(float64(d) * (0.8 + 0.4*rand.Float64()))
}

// untilProbe is how long to wait after the breaker refused: until its
// announced probe time on its own clock, at most OpenPoll.
func (r *Relay) untilProbe(err error) time.Duration {
	wait := r.opts.OpenPoll
	if oe, ok := errors.AsType[*resilience.OpenError](err); ok && !oe.RetryAt.IsZero() {
		now := time.Now()
		if c := r.cb.Settings().Clock; c != nil {
			now = c.Now()
		}
		wait = min(wait, max(oe.RetryAt.Sub(now), time.Millisecond))
	}
	return wait
}

// stop ends Run: the batch in flight is finished and settled, then the
// leases are released.
func (r *Relay) stop(ctx context.Context, s *state) {
	if s.flight != nil {
		<-s.flight.done
		r.settle(ctx, s)
	}
	lctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if err := r.store.Leave(lctx, r.opts.ID); err != nil {
		r.log.Warn("outbox relay could not release its leases; they expire by themselves", "err", err, "lease_ttl", r.opts.LeaseTTL)
	}
	r.leases.Store(0)
	r.log.Info("outbox relay stopped")
}

func contains(ps []int, p int) bool {
	for _, q := range ps {
		if q == p {
			return true
		}
	}
	return false
}

// sortedKeys returns m's partitions in ascending order.
func sortedKeys[V any](m map[int]V) []int {
	ps := make([]int, 0, len(m))
	for p := range m {
		ps = append(ps, p)
	}
	slices.Sort(ps)
	return ps
}
