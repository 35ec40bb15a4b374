package observability

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/huleedu/huleedu/internal/promtest"
)

// alertWatcher polls Prometheus's active alerts while the test goes on and
// remembers when it first saw each alert pending, firing and, after that,
// resolved, so the timeline has the times of every alert, not only of the
// one the test was waiting for. The test reports what it saw itself with
// Saw, so whichever looked first sets the time.
type alertWatcher struct {
	prom *promtest.Server
	stop chan struct{}
	done chan struct{}

	active map[string]bool // alerts active at the last poll; the goroutine's

	mu    sync.Mutex
	first map[string]time.Time // "<alert> <state>" -> first seen
}

// watchAlerts starts watching; the watcher stops when the test ends, or
// at Stop.
func watchAlerts(t *testing.T, prom *promtest.Server) *alertWatcher {
	w := &alertWatcher{prom: prom, stop: make(chan struct{}), done: make(chan struct{}),
		first: map[string]time.Time{}, active: map[string]bool{}}
	go w.run()
	t.Cleanup(w.Stop)
	return w
}

func (w *alertWatcher) run() {
	defer close(w.done)
	tick := time.NewTicker(scrapeInterval / 2)
	defer tick.Stop()
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		alerts, err := w.prom.Alerts(ctx)
		cancel()
		now := time.Now()
		if err == nil {
			active := map[string]bool{}
			for _, a := range alerts {
				active[a.Name()] = true
				w.Saw(a.Name(), string(a.State), now)
			}
			for name := range w.active {
				if !active[name] {
					w.Saw(name, "resolved", now)
				}
			}
			w.active = active
		}
		select {
		case <-w.stop:
			return
		case <-tick.C:
		}
	}
}

// Saw records that alert was in state (pending, firing, resolved) at at,
// unless it was seen so earlier.
func (w *alertWatcher) Saw(alert, state string, at time.Time) {
	w.mu.Lock()
	defer w.mu.Unlock()
	key := alert + " " + state
	if first, seen := w.first[key]; !seen || at.Before(first) {
		w.first[key] = at
	}
}

// Stop stops polling and waits for the poll in flight.
func (w *alertWatcher) Stop() {
	select {
	case <-w.stop:
	default:
		close(w.stop)
	}
	<-w.done
}

// timeline returns what was seen.
func (w *alertWatcher) timeline() *timeline {
	w.mu.Lock()
	defer w.mu.Unlock()
	tl := &timeline{}
	for key, at := range w.first {
		tl.add(at, key)
	}
	return tl
}

// timeline is a list of events with their times.
type timeline struct {
	events []timedEvent
}

type timedEvent struct {
	at   time.Time
	what string
}

func (tl *timeline) add(at time.Time, what string) {
	tl.events = append(tl.events, timedEvent{at: at, what: what})
}

// log logs the events in time order, relative to start.
func (tl *timeline) log(t *testing.T, start time.Time) {
	t.Helper()
	slices.SortStableFunc(tl.events, func(a, b timedEvent) int { return a.at.Compare(b.at) })
	lines := make([]string, len(tl.events))
	for i, e := range tl.events {
		lines[i] = fmt.Sprintf("%+7.2fs  %s", e.at.Sub(start).Seconds(), e.what)
	}
	t.Logf("timeline relative to the Kafka cut (rules at 1/%d of their durations: for: 5m is 5s, for: 1m is 1s; scrape and evaluation every %v):\n%s",
		timeScale, scrapeInterval, strings.Join(lines, "\n"))
}
