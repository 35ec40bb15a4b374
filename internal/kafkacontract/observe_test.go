package kafkacontract

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"regexp"
	"slices"
	"strings"
	"sync"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// observer watches a KafkaBus's franz-go client: the final error of every
// record that failed (a produce hook) and every error franz-go logged on
// its way, retried or not (its Info-level log, where it reports failed
// batches, producer-id resets and duplicate sequence numbers). The counts
// show what Kafka really answered, and that an idempotent producer never
// failed a record on a sequence error.
type observer struct {
	// mu guards the maps.
	mu     sync.Mutex
	failed map[string]int // final record errors, by cause
	logged map[string]int // errors and events franz-go logged, by cause
}

func newObserver() *observer {
	return &observer{failed: map[string]int{}, logged: map[string]int{}}
}

var _ kgo.HookProduceRecordUnbuffered = (*observer)(nil)

// OnProduceRecordUnbuffered counts a record's final error.
func (o *observer) OnProduceRecordUnbuffered(_ *kgo.Record, err error) {
	if err == nil {
		return
	}
	o.mu.Lock()
	o.failed[cause(err)]++
	o.mu.Unlock()
}

// sequenceErrors are the idempotent producer's own errors: Kafka saying a
// batch's sequence or epoch does not follow what it has.
var sequenceErrors = []*kerr.Error{
	kerr.OutOfOrderSequenceNumber, kerr.UnknownProducerID, kerr.InvalidProducerEpoch,
	kerr.DuplicateSequenceNumber, kerr.InvalidProducerIDMapping,
}

// failedOnSequence returns the final record errors that were sequence
// errors: a partition an idempotent producer could not recover.
func (o *observer) failedOnSequence() map[string]int {
	o.mu.Lock()
	defer o.mu.Unlock()
	out := map[string]int{}
	for c, n := range o.failed {
		for _, e := range sequenceErrors {
			if strings.Contains(c, e.Message) {
				out[c] += n
			}
		}
	}
	return out
}

// sawLogged reports whether franz-go logged an error naming e.
func (o *observer) sawLogged(e *kerr.Error) bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	for c := range o.logged {
		if strings.Contains(c, e.Message) {
			return true
		}
	}
	return false
}

// summary lists the counts, for the test log.
func (o *observer) summary() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	list := func(m map[string]int) string {
		var parts []string
		for _, k := range slices.Sorted(maps.Keys(m)) {
			parts = append(parts, fmt.Sprintf("%s ×%d", k, m[k]))
		}
		if len(parts) == 0 {
			return "none"
		}
		return strings.Join(parts, "; ")
	}
	return "record failures: " + list(o.failed) + "\n\tfranz-go logged: " + list(o.logged)
}

// logger returns the slog.Logger for kafkabus.Options.Logger: franz-go's
// Info and higher, counted, and with KC_DEBUG set also written to stderr
// (then from Debug up).
func (o *observer) logger(name string) *slog.Logger {
	h := &countingHandler{o: o, level: slog.LevelInfo}
	if os.Getenv("KC_DEBUG") != "" {
		h.level = slog.LevelDebug
		h.next = slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}).WithAttrs([]slog.Attr{slog.String("lane", name)})
	}
	return slog.New(h)
}

type countingHandler struct {
	o     *observer
	level slog.Level
	next  slog.Handler // nil: count only
}

func (h *countingHandler) Enabled(_ context.Context, l slog.Level) bool { return l >= h.level }

func (h *countingHandler) Handle(ctx context.Context, r slog.Record) error {
	if r.Level >= slog.LevelInfo {
		key := ""
		r.Attrs(func(a slog.Attr) bool {
			if a.Key == "err" {
				if err, ok := a.Value.Any().(error); ok {
					key = cause(err)
				} else {
					key = normalise(a.Value.String())
				}
				return false
			}
			return true
		})
		if key == "" {
			key = normalise(r.Message)
		} else {
			key = normalise(r.Message) + ": " + key
		}
		h.o.mu.Lock()
		h.o.logged[key]++
		h.o.mu.Unlock()
	}
	if h.next != nil {
		return h.next.Handle(ctx, r)
	}
	return nil
}

func (h *countingHandler) WithAttrs(as []slog.Attr) slog.Handler {
	c := *h
	if h.next != nil {
		c.next = h.next.WithAttrs(as)
	}
	return &c
}

func (h *countingHandler) WithGroup(name string) slog.Handler {
	c := *h
	if h.next != nil {
		c.next = h.next.WithGroup(name)
	}
	return &c
}

// cause names an error by what Kafka or the network said, without
// addresses, so that counts of the same cause add up.
func cause(err error) string {
	var parts []string
	if errors.Is(err, kgo.ErrRecordTimeout) {
		parts = append(parts, "record timeout")
	}
	if ke, ok := errors.AsType[*kerr.Error](err); ok {
		parts = append(parts, ke.Message)
	} else if len(parts) == 0 || errors.Unwrap(err) != nil {
		parts = append(parts, normalise(err.Error()))
	}
	return strings.Join(parts, ": ")
}

var addrRE = regexp.MustCompile(`\d+\.\d+\.\d+\.\d+:\d+(->\d+\.\d+\.\d+\.\d+:\d+)?|\b\d+\b`)

func normalise(s string) string {
	s = addrRE.ReplaceAllString(s, "N")
	if len(s) > 120 {
		s = s[:120] + "..."
	}
	return s
}
