package contractstest

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/google/uuid"

	"github.com/huleedu/huleedu/services/contracts"
)

// Router delivers what is published on a Bus to subscribed handlers, the
// way Kafka consumer groups behind servicekit's idempotent consumer would,
// but synchronously and in one goroutine, so a test can run a whole
// pipeline in process and then assert on the result.
//
// Each consumer group gets every envelope of its topics in publication
// order. A handler error leaves the delivery pending; Run retries it after
// the rest, up to MaxAttempts times. With Dedup (the default) a group
// handles each event_id once, like the idempotent consumer; with Duplicates
// > 0 every envelope is delivered 1+Duplicates times to every group and
// dedup is off, to prove that handlers themselves are idempotent.
type Router struct {
	bus *Bus

	// MaxAttempts bounds the deliveries of one envelope to one group that
	// fail before Run gives up. Default 5.
	MaxAttempts int
	// Duplicates is how many extra times each envelope is delivered to
	// each group, with deduplication off. Default 0.
	Duplicates int

	mu      sync.Mutex
	groups  []*group
	fanned  int // how many of bus.All() were queued already
	pending []*delivery
}

type group struct {
	name     string
	handlers map[string]contracts.HandlerFunc
	done     map[uuid.UUID]bool
}

type delivery struct {
	g        *group
	p        Published
	attempts int
	lastErr  error
}

// NewRouter returns a Router for what bus records.
func NewRouter(bus *Bus) *Router { return &Router{bus: bus} }

// Subscribe adds a consumer group with its handlers (topic -> handler).
// Only envelopes published after the call are delivered to it.
func (r *Router) Subscribe(groupName string, handlers map[string]contracts.HandlerFunc) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.groups = append(r.groups, &group{name: groupName, handlers: handlers, done: map[uuid.UUID]bool{}})
}

// Run delivers until nothing is pending: new envelopes that handlers
// publish are delivered too. It returns the number of handler calls made,
// and an error listing the deliveries that still failed after MaxAttempts.
func (r *Router) Run(ctx context.Context) (int, error) {
	maxAttempts := r.MaxAttempts
	if maxAttempts <= 0 {
		maxAttempts = 5
	}
	calls := 0
	var gaveUp []error
	for {
		r.fanOut()
		r.mu.Lock()
		batch := r.pending
		r.pending = nil
		r.mu.Unlock()
		if len(batch) == 0 {
			return calls, errors.Join(gaveUp...)
		}
		for _, d := range batch {
			if err := ctx.Err(); err != nil {
				return calls, err
			}
			id := d.p.Envelope.EventID
			if r.Duplicates == 0 && d.g.done[id] {
				continue
			}
			calls++
			d.attempts++
			if err := d.g.handlers[d.p.Topic](ctx, d.p.Envelope); err != nil {
				d.lastErr = err
				if d.attempts >= maxAttempts {
					gaveUp = append(gaveUp, fmt.Errorf("group %s, %s %s: %d attempts, last: %w",
						d.g.name, d.p.Envelope.EventType, id, d.attempts, err))
					continue
				}
				r.mu.Lock()
				r.pending = append(r.pending, d)
				r.mu.Unlock()
				continue
			}
			d.g.done[id] = true
		}
	}
}

// fanOut queues the envelopes published since the last call for every
// group subscribed to their topic.
func (r *Router) fanOut() {
	all := r.bus.All()
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, p := range all[r.fanned:] {
		for _, g := range r.groups {
			if _, ok := g.handlers[p.Topic]; !ok {
				continue
			}
			for range 1 + r.Duplicates {
				r.pending = append(r.pending, &delivery{g: g, p: p})
			}
		}
	}
	r.fanned = len(all)
}
