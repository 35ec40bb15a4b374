package drill

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os/exec"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// The crash drill runs the publisher in a child process so that it can be
// SIGKILLed. Parent and child talk over pipes:
//
//   - parent → child stdin: one line of JSON (publisherConfig), then one
//     seq per line, in submission order; EOF means "no more: close the bus,
//     draining until DrainTimeout, and exit".
//   - child → parent stdout: one JSON event per line (childEvent). The
//     child writes each line with its own unbuffered write, and writes the
//     "started" line of a seq before it calls Publish, so whatever the
//     parent has read when the child dies is exactly what happened before
//     the kill. A seq whose "started" line never arrived was never
//     published and is handed to the next child; one that started and has
//     no outcome line is an unknown outcome, reported as not accepted.

// childEvent is one line from the child. K says which kind:
// "ready", "s" (started), "f" (finished), "t" (transition), "st" (status)
// or "done".
type childEvent struct {
	K    string        `json:"k"`
	Seq  int64         `json:"seq,omitempty"`
	OK   bool          `json:"ok,omitempty"`
	Lat  time.Duration `json:"lat,omitempty"`
	At   time.Duration `json:"at,omitempty"`
	From string        `json:"from,omitempty"`
	To   string        `json:"to,omitempty"`
	St   *pubStatus    `json:"st,omitempty"`
	Err  string        `json:"err,omitempty"`
}

// childSettings are the settings only a child needs on top of
// publisherConfig.
type childSettings struct {
	DrainTimeout time.Duration `json:"drain_timeout"`
}

// childHello is the first line the parent writes.
type childHello struct {
	publisherConfig
	childSettings
}

// ServeChild is the child side of the crash drill: it reads its
// configuration and seqs from in, publishes them through a ResilientBus
// on the spool directory it was given and reports every step on out. The
// command line's hidden "drill-publisher" command calls it; nothing else
// should.
func ServeChild(ctx context.Context, in io.Reader, out io.Writer, log *slog.Logger) error {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	br := bufio.NewReader(in)
	line, err := br.ReadBytes('\n')
	if err != nil {
		return fmt.Errorf("drill child: reading the configuration line: %w", err)
	}
	var hello childHello
	if err := json.Unmarshal(line, &hello); err != nil {
		return fmt.Errorf("drill child: decoding the configuration line: %w", err)
	}
	ls := &lineSink{w: out, start: hello.Start}
	p, err := startLocal(ctx, hello.publisherConfig, ls, log, nil)
	if err != nil {
		return err
	}
	ls.emit(childEvent{K: "ready"})

	stopStatus := make(chan struct{})
	statusDone := make(chan struct{})
	go func() {
		defer close(statusDone)
		t := time.NewTicker(sampleEvery)
		defer t.Stop()
		for {
			select {
			case <-stopStatus:
				return
			case <-t.C:
				st := p.status()
				ls.emit(childEvent{K: "st", St: &st})
			}
		}
	}()

	var readErr error
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			if !errors.Is(err, io.EOF) {
				readErr = fmt.Errorf("drill child: reading seqs: %w", err)
			}
			break
		}
		seq, err := strconv.ParseInt(line[:len(line)-1], 10, 64)
		if err != nil {
			readErr = fmt.Errorf("drill child: bad seq line %q", line)
			break
		}
		if err := p.submit(ctx, seq); err != nil {
			readErr = err
			break
		}
	}
	drainCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), hello.DrainTimeout)
	defer cancel()
	st, err := p.finish(drainCtx)
	close(stopStatus)
	<-statusDone
	done := childEvent{K: "done", St: &st}
	if err = errors.Join(readErr, err); err != nil {
		done.Err = err.Error()
	}
	ls.emit(done)
	return err
}

// lineSink is the child's sink: every call becomes one JSON line, written
// with one Write call under mu so lines never interleave.
type lineSink struct {
	mu    sync.Mutex
	w     io.Writer
	start time.Time
}

func (ls *lineSink) emit(e childEvent) {
	b, err := json.Marshal(e)
	if err != nil {
		return // childEvent always encodes
	}
	ls.mu.Lock()
	defer ls.mu.Unlock()
	// A failed write means the parent is gone; the parent decides the
	// child's fate, so there is nothing useful to do about it here.
	_, _ = ls.w.Write(append(b, '\n'))
}

func (ls *lineSink) started(seq int64) { ls.emit(childEvent{K: "s", Seq: seq}) }

func (ls *lineSink) finished(seq int64, ok bool, lat, at time.Duration) {
	ls.emit(childEvent{K: "f", Seq: seq, OK: ok, Lat: lat, At: at})
}

func (ls *lineSink) transition(at time.Duration, from, to string) {
	ls.emit(childEvent{K: "t", At: at, From: from, To: to})
}

// childPublisher is the parent's side: a publisher whose bus lives in a
// child process that crash can kill and replace.
type childPublisher struct {
	cfg     publisherConfig
	drain   time.Duration
	rec     *recorder
	command func(context.Context) *exec.Cmd
	log     *slog.Logger
	ctx     context.Context

	// gate is held by submit while it writes a seq and by crash from the
	// kill until the next child has received the seqs the dead one never
	// started, so a new seq never overtakes a re-sent older one.
	gate      sync.Mutex
	proc      *childProc // guarded by gate
	submitted int64      // guarded by gate
	broken    error      // guarded by gate: the restart failed, no child runs

	statusMu sync.Mutex
	base     pubStatus  // counters of dead children
	cur      *childProc // nil while no child runs
	// downDepth and downBytes are the dead child's last queue size,
	// shown while no child runs: the records are still in the spool.
	downDepth, downBytes int64
}

// childProc is one child process.
type childProc struct {
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	killed atomic.Bool
	ready  chan struct{}   // closed on the "ready" line
	exited chan struct{}   // closed when stdout hit EOF and the process was reaped
	stderr *tailBuffer     // the last few KiB of the child's stderr
	mu     sync.Mutex      // guards last and done
	last   pubStatus       // latest "st" line
	done   *childEvent     // the "done" line
	waitEr error           // the process's exit status, set before exited closes
	out    io.ReadCloser   // stdout
	errOut io.ReadCloser   // stderr
	wg     *sync.WaitGroup // the reader goroutines
}

func startChild(ctx context.Context, cfg publisherConfig, rec *recorder, command func(context.Context) *exec.Cmd, log *slog.Logger, drain time.Duration) (*childPublisher, error) {
	c := &childPublisher{cfg: cfg, drain: drain, rec: rec, command: command, log: log, ctx: ctx}
	p, err := c.spawn()
	if err != nil {
		return nil, err
	}
	c.proc = p
	c.setCurrent(p)
	return c, nil
}

// spawn starts a child, sends it the configuration and waits for "ready".
func (c *childPublisher) spawn() (*childProc, error) {
	cmd := c.command(c.ctx)
	p := &childProc{cmd: cmd, ready: make(chan struct{}), exited: make(chan struct{}), stderr: &tailBuffer{max: 8 << 10}, wg: &sync.WaitGroup{}}
	var err error
	if p.stdin, err = cmd.StdinPipe(); err != nil {
		return nil, fmt.Errorf("drill: child publisher stdin: %w", err)
	}
	if p.out, err = cmd.StdoutPipe(); err != nil {
		return nil, fmt.Errorf("drill: child publisher stdout: %w", err)
	}
	if p.errOut, err = cmd.StderrPipe(); err != nil {
		return nil, fmt.Errorf("drill: child publisher stderr: %w", err)
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("drill: starting child publisher %s: %w", cmd.Path, err)
	}
	p.wg.Go(func() { _, _ = io.Copy(p.stderr, p.errOut) })
	p.wg.Go(func() { c.read(p) })
	go func() {
		p.wg.Wait()
		p.waitEr = cmd.Wait()
		close(p.exited)
	}()

	hello, err := json.Marshal(childHello{publisherConfig: c.cfg, childSettings: childSettings{DrainTimeout: c.drain}})
	if err == nil {
		_, err = p.stdin.Write(append(hello, '\n'))
	}
	if err != nil {
		_ = cmd.Process.Kill()
		<-p.exited
		return nil, fmt.Errorf("drill: configuring child publisher: %w (stderr: %s)", err, p.stderr)
	}
	select {
	case <-p.ready:
		return p, nil
	case <-p.exited:
		return nil, fmt.Errorf("drill: child publisher exited before it was ready (%v): %s", p.waitEr, p.stderr)
	case <-c.ctx.Done():
		_ = cmd.Process.Kill()
		<-p.exited
		return nil, c.ctx.Err()
	}
}

// read replays the child's event lines into the recorder.
func (c *childPublisher) read(p *childProc) {
	sc := bufio.NewScanner(p.out)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		var e childEvent
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			c.log.Warn("drill: unreadable line from the child publisher", "line", sc.Text())
			continue
		}
		switch e.K {
		case "ready":
			close(p.ready)
		case "s":
			c.rec.started(e.Seq)
		case "f":
			c.rec.finished(e.Seq, e.OK, e.Lat, e.At)
		case "t":
			c.rec.transition(e.At, e.From, e.To)
		case "st":
			if e.St == nil {
				continue
			}
			p.mu.Lock()
			p.last = *e.St
			p.mu.Unlock()
		case "done":
			p.mu.Lock()
			p.done = &e
			if e.St != nil {
				p.last = *e.St
			}
			p.mu.Unlock()
		}
	}
}

func (c *childPublisher) setCurrent(p *childProc) {
	c.statusMu.Lock()
	defer c.statusMu.Unlock()
	c.cur = p
}

func (c *childPublisher) submit(ctx context.Context, seq int64) error {
	c.gate.Lock()
	defer c.gate.Unlock()
	if err := ctx.Err(); err != nil {
		return err
	}
	if c.broken != nil {
		return c.broken
	}
	c.submitted = seq
	p := c.proc
	if _, err := p.stdin.Write([]byte(strconv.FormatInt(seq, 10) + "\n")); err != nil {
		if p.killed.Load() {
			return nil // crash re-sends it to the next child: it never started
		}
		select {
		case <-p.exited:
			return fmt.Errorf("drill: child publisher died (%v): %s", p.waitEr, p.stderr)
		case <-time.After(time.Second):
			return fmt.Errorf("drill: child publisher stopped reading its input (%w): %s", err, p.stderr)
		}
	}
	return nil
}

func (c *childPublisher) status() pubStatus {
	c.statusMu.Lock()
	defer c.statusMu.Unlock()
	st := c.base
	if c.cur == nil {
		st.State = "down"
		st.Depth, st.Bytes = c.downDepth, c.downBytes
		return st
	}
	c.cur.mu.Lock()
	last := c.cur.last
	c.cur.mu.Unlock()
	st.Up = true
	st.State = last.State
	st.Depth, st.Bytes = last.Depth, last.Bytes
	addCounters(&st, last)
	return st
}

// addCounters adds the cumulative counters of from to st.
func addCounters(st *pubStatus, from pubStatus) {
	st.Published += from.Published
	st.Spooled += from.Spooled
	st.Replayed += from.Replayed
	st.DeadLettered += from.DeadLettered
	st.Undelivered += from.Undelivered
}

// crash SIGKILLs the child and starts another on the same spool. Seqs the
// dead child started without reporting an outcome are recorded as not
// accepted; seqs it never started go to the new child.
func (c *childPublisher) crash() (CrashResult, error) {
	c.statusMu.Lock()
	p := c.cur
	c.statusMu.Unlock()
	p.killed.Store(true)
	killAt := time.Since(c.cfg.Start)
	_ = p.cmd.Process.Kill()

	c.gate.Lock()
	defer c.gate.Unlock()
	<-p.exited

	res := CrashResult{AtMs: killAt.Milliseconds()}
	for _, seq := range c.rec.inFlight() {
		c.rec.finished(seq, false, -1, killAt)
		res.InFlight++
	}
	var resend []int64
	for seq := int64(1); seq <= c.submitted; seq++ {
		if !c.rec.isStarted(seq) {
			resend = append(resend, seq)
		}
	}

	c.statusMu.Lock()
	p.mu.Lock()
	addCounters(&c.base, p.last)
	c.downDepth, c.downBytes = p.last.Depth, p.last.Bytes
	p.mu.Unlock()
	c.cur = nil
	c.statusMu.Unlock()

	next, err := c.spawn()
	if err != nil {
		c.broken = fmt.Errorf("drill: restarting the publisher after the crash: %w", err)
		return res, c.broken
	}
	res.RestartedAtMs = time.Since(c.cfg.Start).Milliseconds()
	c.proc = next
	c.setCurrent(next)
	c.log.Info("publisher killed and restarted", "in_flight", res.InFlight, "resent", len(resend))
	for _, seq := range resend {
		if _, err := next.stdin.Write([]byte(strconv.FormatInt(seq, 10) + "\n")); err != nil {
			return res, fmt.Errorf("drill: re-sending seq %d to the restarted publisher: %w", seq, err)
		}
	}
	return res, nil
}

// finish closes the child's stdin and waits for it to drain and exit.
func (c *childPublisher) finish(ctx context.Context) (pubStatus, error) {
	c.gate.Lock()
	defer c.gate.Unlock()
	if c.broken != nil {
		return c.status(), c.broken
	}
	p := c.proc
	_ = p.stdin.Close()
	select {
	case <-p.exited:
	case <-ctx.Done():
		// The child bounds its own drain by the same timeout; give it a
		// moment past ours before killing it.
		select {
		case <-p.exited:
		case <-time.After(5 * time.Second):
			_ = p.cmd.Process.Kill()
			<-p.exited
		}
	}
	st := c.status()
	c.setCurrent(nil)
	c.statusMu.Lock()
	c.base = st
	c.statusMu.Unlock()
	st.Up, st.State = false, "closed"
	p.mu.Lock()
	done := p.done
	p.mu.Unlock()
	if done != nil && done.St != nil {
		st.CloseErr = done.St.CloseErr
	}
	switch {
	case done == nil:
		return st, fmt.Errorf("drill: child publisher ended without finishing (%v): %s", p.waitEr, p.stderr)
	case done.Err != "":
		return st, fmt.Errorf("drill: child publisher: %s", done.Err)
	}
	return st, nil
}

// tailBuffer keeps the last max bytes written to it.
type tailBuffer struct {
	mu  sync.Mutex
	max int
	b   []byte
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.b = append(t.b, p...)
	if over := len(t.b) - t.max; over > 0 {
		t.b = append(t.b[:0], t.b[over:]...)
	}
	return len(p), nil
}

func (t *tailBuffer) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return string(t.b)
}
