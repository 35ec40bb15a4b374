package drill

import (
	"fmt"
	"io"
	"strings"
	"sync"
	"time"
)

// Progress is a snapshot of a running drill, sent to Config.Progress.
type Progress struct {
	Phase    string // PhasePublishing, PhaseDraining, PhaseVerifying
	Elapsed  time.Duration
	Duration time.Duration // the workload's planned length
	Sent     int64
	Accepted int64
	Rejected int64
	Acked    int64  // records Kafka acknowledged, direct and replayed
	Depth    int64  // records in the fallback queue
	State    string // breaker state, or "down" while no publisher runs
	Fault    string // the fault in force now, or ""
	// SentRate and AckRate are records per second over the last second.
	SentRate float64
	AckRate  float64
}

// progress builds a Progress from the latest samples.
func (r *recorder) progress(phase string, elapsed, duration time.Duration, fault string) Progress {
	r.mu.Lock()
	defer r.mu.Unlock()
	p := Progress{Phase: phase, Elapsed: elapsed, Duration: duration, Fault: fault,
		Sent: r.sent, Accepted: r.accepted, Rejected: r.rejected, State: "closed"}
	n := len(r.samples)
	if n == 0 {
		return p
	}
	last := r.samples[n-1]
	p.Acked, p.Depth, p.State = last.Acked, last.Depth, last.State
	// Rates over the last second of samples (or what there is).
	i := n - 1
	for i > 0 && last.AtMs-r.samples[i-1].AtMs <= 1000 {
		i--
	}
	first := r.samples[i]
	if span := float64(last.AtMs-first.AtMs) / 1000; span > 0 {
		p.SentRate = float64(last.Sent-first.Sent) / span
		p.AckRate = float64(last.Acked-first.Acked) / span
	}
	return p
}

// ProgressPrinter shows Progress on a terminal or in a log.
//
// On a terminal it redraws one line in place: a progress bar and a live
// line with the breaker state, the queue depth and the sent/acked rates.
// Elsewhere (a pipe, a CI log) it writes a plain line every PlainEvery.
// Its Update method fits Config.Progress; call Done before writing
// anything else to the same stream.
type ProgressPrinter struct {
	w          io.Writer
	tty        bool
	plainEvery time.Duration

	mu        sync.Mutex // guards the fields below
	lastPlain time.Duration
	drawn     bool
	phase     string
}

// NewProgressPrinter returns a printer writing to w. tty selects the
// in-place display; otherwise a plain line is written every 5 s and at
// each phase change.
func NewProgressPrinter(w io.Writer, tty bool) *ProgressPrinter {
	return &ProgressPrinter{w: w, tty: tty, plainEvery: 5 * time.Second, lastPlain: -time.Hour}
}

// Update shows p.
func (pp *ProgressPrinter) Update(p Progress) {
	pp.mu.Lock()
	defer pp.mu.Unlock()
	if pp.tty {
		// \r and "erase to end of line" redraw in place.
		fmt.Fprintf(pp.w, "\r%s\x1b[K", liveLine(p, true))
		pp.drawn = true
		return
	}
	if p.Phase == pp.phase && p.Elapsed-pp.lastPlain < pp.plainEvery {
		return
	}
	pp.phase, pp.lastPlain = p.Phase, p.Elapsed
	fmt.Fprintln(pp.w, liveLine(p, false))
}

// Done ends the live line so that what follows starts on a fresh line.
func (pp *ProgressPrinter) Done() {
	pp.mu.Lock()
	defer pp.mu.Unlock()
	if pp.drawn {
		fmt.Fprintln(pp.w)
		pp.drawn = false
	}
}

// liveLine formats p on one line, with a bar when bar is set.
func liveLine(p Progress, bar bool) string {
	var b strings.Builder
	frac := 1.0
	if p.Duration > 0 && p.Phase == PhasePublishing {
		frac = min(max(float64(p.Elapsed)/float64(p.Duration), 0), 1)
	}
	if bar {
		const width = 24
		full := int(frac * width)
		b.WriteString("[" + strings.Repeat("=", full))
		if full < width {
			b.WriteString(">" + strings.Repeat(" ", width-full-1))
		}
		b.WriteString("] ")
	}
	fmt.Fprintf(&b, "%3.0f%% %5.1fs %-10s breaker=%-9s queue=%-7d sent=%d (%.0f/s) acked=%d (%.0f/s)",
		frac*100, p.Elapsed.Seconds(), p.Phase, p.State, p.Depth, p.Sent, p.SentRate, p.Acked, p.AckRate)
	if p.Rejected > 0 {
		fmt.Fprintf(&b, " rejected=%d", p.Rejected)
	}
	if p.Fault != "" {
		fmt.Fprintf(&b, " fault=%s", p.Fault)
	}
	return b.String()
}
