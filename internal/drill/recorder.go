package drill

import (
	"sync"
	"time"
)

// sink receives what a publisher does, as it happens. The in-process
// publisher calls a recorder directly; a child publisher writes the same
// calls as JSON lines that the parent replays into its recorder.
type sink interface {
	// started is called just before Publish is called for seq.
	started(seq int64)
	// finished is called when Publish for seq returned (ok = nil error).
	// lat < 0 means the duration is unknown (the process was killed).
	finished(seq int64, ok bool, lat, at time.Duration)
	// transition reports a breaker state change at a time since the start.
	transition(at time.Duration, from, to string)
}

// outcome states of one seq.
const (
	seqPending uint8 = iota
	seqStarted
	seqAccepted
	seqRejected
)

type outcome struct {
	state uint8
	lat   time.Duration // < 0: unknown
	at    time.Duration // when Publish returned, since the start
}

// recorder collects the outcome of every seq, the breaker's transitions
// and the 100 ms samples. All methods are safe for concurrent use; mu
// guards every field.
type recorder struct {
	mu          sync.Mutex
	outcomes    []outcome // indexed by seq; index 0 unused
	sent        int64
	accepted    int64
	rejected    int64
	lastDone    time.Duration
	transitions []Transition
	samples     []Sample
}

func newRecorder(expected int) *recorder {
	return &recorder{outcomes: make([]outcome, 1, expected+1)}
}

func (r *recorder) slot(seq int64) *outcome {
	for int64(len(r.outcomes)) <= seq {
		r.outcomes = append(r.outcomes, outcome{})
	}
	return &r.outcomes[seq]
}

func (r *recorder) started(seq int64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	o := r.slot(seq)
	if o.state == seqPending {
		o.state = seqStarted
		r.sent++
	}
}

func (r *recorder) finished(seq int64, ok bool, lat, at time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	o := r.slot(seq)
	if o.state == seqPending {
		r.sent++
	}
	if o.state == seqAccepted || o.state == seqRejected {
		return // a seq has one outcome; the first report wins
	}
	o.lat, o.at = lat, at
	if ok {
		o.state = seqAccepted
		r.accepted++
	} else {
		o.state = seqRejected
		r.rejected++
	}
	r.lastDone = max(r.lastDone, at)
}

func (r *recorder) transition(at time.Duration, from, to string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.transitions = append(r.transitions, Transition{AtMs: at.Milliseconds(), From: from, To: to})
}

// sample appends a timeline row built from the recorder's counts and the
// publisher's status, and returns it.
func (r *recorder) sample(at time.Duration, st pubStatus) Sample {
	r.mu.Lock()
	defer r.mu.Unlock()
	s := Sample{
		AtMs:     at.Milliseconds(),
		Sent:     r.sent,
		Accepted: r.accepted,
		Acked:    st.Published + st.Replayed,
		Depth:    st.Depth,
		Bytes:    st.Bytes,
		State:    st.State,
	}
	r.samples = append(r.samples, s)
	return s
}

// inFlight returns the seqs that started and have no outcome yet.
func (r *recorder) inFlight() []int64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	var seqs []int64
	for seq, o := range r.outcomes {
		if o.state == seqStarted {
			seqs = append(seqs, int64(seq))
		}
	}
	return seqs
}

// isStarted reports whether Publish was called for seq.
func (r *recorder) isStarted(seq int64) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return seq < int64(len(r.outcomes)) && r.outcomes[seq].state != seqPending
}

// results is the recorder's final state, read once the publishers are done.
type results struct {
	accepted    []bool // indexed by seq
	rejected    []int64
	latencies   []time.Duration // known latencies, any outcome
	doneAt      []time.Duration // when each known-latency call returned
	lastDone    time.Duration
	transitions []Transition
	samples     []Sample
}

func (r *recorder) results() results {
	r.mu.Lock()
	defer r.mu.Unlock()
	res := results{
		accepted:    make([]bool, len(r.outcomes)),
		rejected:    []int64{},
		latencies:   make([]time.Duration, 0, len(r.outcomes)),
		doneAt:      make([]time.Duration, 0, len(r.outcomes)),
		lastDone:    r.lastDone,
		transitions: append([]Transition{}, r.transitions...),
		samples:     append([]Sample{}, r.samples...),
	}
	for seq := 1; seq < len(r.outcomes); seq++ {
		o := r.outcomes[seq]
		switch o.state {
		case seqAccepted:
			res.accepted[seq] = true
		default:
			// Started with no outcome (cannot happen once every publisher
			// finished, but a killed one leaves none) or pending (a hole,
			// which the protocol does not produce): not accepted.
			res.rejected = append(res.rejected, int64(seq))
		}
		if o.state >= seqAccepted && o.lat >= 0 {
			res.latencies = append(res.latencies, o.lat)
			res.doneAt = append(res.doneAt, o.at)
		}
	}
	return res
}
