package drill

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"

	"github.com/huleedu/huleedu/embeddedkafka"
	"github.com/huleedu/huleedu/kafkabus"
)

// Phases reported in Progress.Phase.
const (
	PhasePublishing = "publishing"
	PhaseDraining   = "draining"
	PhaseVerifying  = "verifying"
)

// sampleEvery is the sampler's period: the resolution of the timeline,
// of max_spool_depth and of time_to_drain_ms.
const sampleEvery = 100 * time.Millisecond

// Run runs one drill: it starts the embedded cluster (unless cfg.Brokers
// is set), publishes the workload through the bus cfg.Config describes
// (kafkabus.Open, as a service builds it) while the outages break Kafka,
// closes the bus, reads the topic back, and the disk spool for what is
// left in it, and returns the report. A report is returned whenever the drill ran, passed or not;
// an error means it could not run (a bad configuration wraps
// ErrInvalidConfig) or could not be verified.
func Run(ctx context.Context, cfg Config) (*Report, error) {
	cfg.EnsureDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	d := &drillRun{cfg: cfg, log: cfg.Logger}
	defer d.cleanup()
	return d.run(ctx)
}

// drillRun is one Run's state. Fields are set by run's goroutine before
// the goroutines that read them start.
type drillRun struct {
	cfg      Config
	log      *slog.Logger
	cluster  *embeddedkafka.Cluster
	brokers  []string
	tempDirs []string // removed by cleanup
	spoolDir string   // the disk spool's directory, "" for the memory queue
	start    time.Time
	rec      *recorder
	pub      publisher
	phase    atomic.Value // string
	outages  []outageWindow
	// crashMu guards outages and crashes, written by the side goroutines.
	crashMu    sync.Mutex
	crashes    []CrashResult
	progressMu sync.Mutex // serialises cfg.Progress calls
}

func (d *drillRun) cleanup() {
	if d.cluster != nil {
		d.cluster.Close()
	}
	for _, dir := range d.tempDirs {
		_ = os.RemoveAll(dir)
	}
}

func (d *drillRun) tempDir(pattern string) (string, error) {
	dir, err := os.MkdirTemp("", pattern)
	if err != nil {
		return "", fmt.Errorf("drill: temp dir: %w", err)
	}
	d.tempDirs = append(d.tempDirs, dir)
	return dir, nil
}

func (d *drillRun) run(ctx context.Context) (*Report, error) {
	cfg := d.cfg
	if err := d.startCluster(); err != nil {
		return nil, err
	}
	setupCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
	from, err := ensureTopic(setupCtx, d.brokers, cfg.Topic, cfg.Partitions)
	cancel()
	if err != nil {
		return nil, err
	}
	d.spoolDir = cfg.Fallback.Dir
	if cfg.Fallback.Mode == kafkabus.FallbackDisk && d.spoolDir == "" {
		if d.spoolDir, err = d.tempDir("huleedu-drill-spool-"); err != nil {
			return nil, err
		}
	}

	d.start = time.Now()
	bus := cfg.Config
	bus.Brokers, bus.Fallback.Dir = d.brokers, d.spoolDir
	bus.Logger, bus.WrapProducer = nil, nil // the publisher sets its own
	pcfg := publisherConfig{
		Bus: bus, Topic: cfg.Topic, Run: uuid.NewString(), Start: d.start,
		Size: cfg.Size, Keys: cfg.Keys, Workers: cfg.Workers,
	}
	d.rec = newRecorder(int(cfg.Duration.Seconds()*float64(cfg.Rate)) + 1)
	d.phase.Store(PhasePublishing)

	// runCtx ends the workload early on interrupt; Publish calls see it.
	runCtx, stop := context.WithCancel(ctx)
	defer stop()
	if cfg.CrashAt > 0 {
		d.pub, err = startChild(runCtx, pcfg, d.rec, cfg.ChildCommand, cfg.Logger, cfg.DrainTimeout)
	} else {
		d.pub, err = startLocal(runCtx, pcfg, d.rec, cfg.Logger, cfg.WrapProducer)
	}
	if err != nil {
		return nil, err
	}

	samplerDone := make(chan struct{})
	samplerStop := make(chan struct{})
	go d.sample(samplerStop, samplerDone)

	// The fault injector and the crash run beside the scheduler; a
	// failure of either ends the workload.
	var side sync.WaitGroup
	sideErrs := make(chan error, 2)
	side.Go(func() {
		if err := d.injectFaults(runCtx); err != nil {
			sideErrs <- err
			stop()
		}
	})
	if cfg.CrashAt > 0 {
		side.Go(func() {
			if err := d.crashAt(runCtx); err != nil {
				sideErrs <- err
				stop()
			}
		})
	}

	schedErr := schedule(runCtx, cfg.Rate, cfg.Duration, d.start, d.pub.submit)
	workloadEnd := time.Since(d.start)
	if schedErr != nil {
		stop() // ends the side goroutines' waits; injectFaults heals on its way out
	}
	side.Wait()
	close(sideErrs)
	if err := errors.Join(<-sideErrs, <-sideErrs); err != nil {
		finishCtx, cancel := context.WithTimeout(context.Background(), time.Second)
		_, _ = d.pub.finish(finishCtx)
		cancel()
		close(samplerStop)
		<-samplerDone
		return nil, err
	}

	d.phase.Store(PhaseDraining)
	d.progress()
	drainCtx, cancelDrain := context.WithTimeout(context.WithoutCancel(ctx), cfg.DrainTimeout)
	if ctx.Err() != nil {
		// Interrupted: do not wait for a drain nobody will look at.
		cancelDrain()
		drainCtx, cancelDrain = context.WithTimeout(context.Background(), time.Second)
	}
	final, finishErr := d.pub.finish(drainCtx)
	cancelDrain()
	drainEnd := time.Since(d.start)
	close(samplerStop)
	<-samplerDone
	d.rec.sample(drainEnd, final)
	if schedErr != nil && ctx.Err() == nil {
		return nil, schedErr
	}
	if ctx.Err() != nil {
		return nil, fmt.Errorf("drill: interrupted after %v: %w", workloadEnd.Round(time.Millisecond), ctx.Err())
	}
	if finishErr != nil {
		return nil, finishErr
	}

	d.phase.Store(PhaseVerifying)
	d.progress()
	verifyCtx, cancelVerify := context.WithTimeout(ctx, cfg.VerifyTimeout)
	deliveries, err := readBack(verifyCtx, d.brokers, cfg.Topic, pcfg.Run, from)
	var spooled []int64
	if err == nil && d.spoolDir != "" {
		spooled, err = readSpool(verifyCtx, d.spoolDir, pcfg.Run)
	}
	cancelVerify()
	if err != nil {
		return nil, err
	}
	verifyEnd := time.Since(d.start)

	rep := d.report(pcfg.Bus, final, deliveries, spooled, workloadEnd, drainEnd, verifyEnd)
	if rep.LeftInSpool > 0 {
		// Those records are durable only as long as their spool is: a
		// temp spool that holds some is kept, and the report names it.
		rep.SpoolDir = d.spoolDir
		d.tempDirs = slices.DeleteFunc(d.tempDirs, func(dir string) bool { return dir == d.spoolDir })
	}
	return rep, nil
}

// startCluster starts the embedded cluster unless brokers were given.
func (d *drillRun) startCluster() error {
	if len(d.cfg.Brokers) > 0 {
		d.brokers = d.cfg.Brokers
		return nil
	}
	dataDir, err := d.tempDir("huleedu-drill-kafka-")
	if err != nil {
		return err
	}
	c, err := embeddedkafka.Start(embeddedkafka.Config{
		Brokers:    d.cfg.EmbeddedBrokers,
		Partitions: int32(d.cfg.Partitions),
		Topics:     []string{d.cfg.Topic},
		DataDir:    dataDir,
	})
	if err != nil {
		return fmt.Errorf("drill: starting the embedded cluster: %w", err)
	}
	d.cluster = c
	d.brokers = c.Addrs()
	return nil
}

// schedule submits seqs 1, 2, ... at rate per second from start until
// duration has passed: rate × duration seqs in all. It catches up after
// submit blocked (an open-loop workload: a slow publisher does not lower
// the offered load, it delays it).
func schedule(ctx context.Context, rate int, duration time.Duration, start time.Time, submit func(context.Context, int64) error) error {
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	var next int64 = 1
	for {
		elapsed := time.Since(start)
		due := int64(elapsed.Seconds() * float64(rate))
		if elapsed >= duration {
			due = int64(duration.Seconds() * float64(rate))
		}
		for ; next <= due; next++ {
			if err := submit(ctx, next); err != nil {
				return fmt.Errorf("drill: workload stopped at seq %d: %w", next, err)
			}
		}
		if elapsed >= duration {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
	}
}

// injectFaults applies each outage's fault at its start and heals it at its
// end, recording when that really happened.
func (d *drillRun) injectFaults(ctx context.Context) error {
	if d.cluster == nil || len(d.cfg.Outages) == 0 {
		return nil
	}
	kind := embeddedkafka.FaultKind(d.cfg.Fault) // Validate checked and normalised it
	for i, o := range d.cfg.Outages {
		if !sleepUntil(ctx, d.start.Add(o.Start)) {
			return nil
		}
		w := outageWindow{faultAt: time.Since(d.start), nextFaultAt: time.Duration(1<<63 - 1)}
		if err := d.cluster.Fault(kind, d.faultOptions(kind)...); err != nil {
			return fmt.Errorf("drill: injecting fault %s (outage %d, %v): %w", kind, i+1, o, err)
		}
		d.log.Info("fault injected", "fault", string(kind), "outage", o.String())
		healed := sleepUntil(ctx, d.start.Add(o.End()))
		if err := d.cluster.Heal(); err != nil {
			return fmt.Errorf("drill: healing fault %s (outage %d, %v): %w", kind, i+1, o, err)
		}
		w.healedAt = time.Since(d.start)
		d.log.Info("fault healed", "fault", string(kind))
		d.crashMu.Lock()
		if n := len(d.outages); n > 0 {
			d.outages[n-1].nextFaultAt = w.faultAt
		}
		d.outages = append(d.outages, w)
		d.crashMu.Unlock()
		if !healed {
			return nil
		}
	}
	return nil
}

// faultOptions tunes a fault to the drill: a slow fault delays responses
// past the publish timeout, so it is a fault and not just a slowdown.
func (d *drillRun) faultOptions(kind embeddedkafka.FaultKind) []embeddedkafka.FaultOpt {
	if kind == embeddedkafka.FaultSlow {
		return []embeddedkafka.FaultOpt{embeddedkafka.WithDelay(2 * d.cfg.PublishTimeout)}
	}
	return nil
}

// crashAt kills the child publisher at cfg.CrashAt and starts a new one.
func (d *drillRun) crashAt(ctx context.Context) error {
	if !sleepUntil(ctx, d.start.Add(d.cfg.CrashAt)) {
		return nil
	}
	res, err := d.pub.(*childPublisher).crash()
	d.crashMu.Lock()
	d.crashes = append(d.crashes, res)
	d.crashMu.Unlock()
	return err
}

func sleepUntil(ctx context.Context, t time.Time) bool {
	timer := time.NewTimer(time.Until(t))
	defer timer.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-timer.C:
		return true
	}
}

// sample records a timeline row every sampleEvery and reports progress
// every ProgressInterval, until stop is closed.
func (d *drillRun) sample(stop <-chan struct{}, done chan<- struct{}) {
	defer close(done)
	tick := time.NewTicker(sampleEvery)
	defer tick.Stop()
	lastProgress := time.Now()
	for {
		select {
		case <-stop:
			return
		case <-tick.C:
		}
		d.rec.sample(time.Since(d.start), d.pub.status())
		if time.Since(lastProgress) >= d.cfg.ProgressInterval {
			lastProgress = time.Now()
			d.progress()
		}
	}
}

// progress sends the current Progress to cfg.Progress, one call at a
// time (the sampler and the phase changes both report).
func (d *drillRun) progress() {
	if d.cfg.Progress == nil {
		return
	}
	d.progressMu.Lock()
	defer d.progressMu.Unlock()
	d.cfg.Progress(d.rec.progress(d.phase.Load().(string), time.Since(d.start), d.cfg.Duration, d.activeFault()))
}

// activeFault names the fault in force now, or "".
func (d *drillRun) activeFault() string {
	el := time.Since(d.start)
	for _, o := range d.cfg.Outages {
		if el >= o.Start && el < o.End() {
			return d.cfg.Fault
		}
	}
	return ""
}

// report assembles the report from the recorder, the final status, the
// verdict and the configuration bus the publisher ran.
func (d *drillRun) report(bus kafkabus.Config, final pubStatus, deliveries []Delivery, spooled []int64, workloadEnd, drainEnd, verifyEnd time.Duration) *Report {
	cfg := d.cfg
	res := d.rec.results()
	v := VerifyWithSpool(res.accepted, deliveries, spooled)
	sent := int64(len(res.accepted) - 1)
	accepted := sent - int64(len(res.rejected))
	publishPhase := max(res.lastDone, time.Millisecond)

	r := &Report{
		Sent:                sent,
		Accepted:            accepted,
		Rejected:            int64(len(res.rejected)),
		RejectedSeqs:        res.rejected,
		Delivered:           v.Delivered,
		Lost:                v.Lost,
		Duplicates:          v.Duplicates,
		Reordered:           v.Reordered,
		Spooled:             final.Spooled,
		BreakerTransitions:  res.transitions,
		PublishLatencyMs:    summarizeLatency(res.latencies),
		ThroughputPerS:      round3(float64(accepted) / publishPhase.Seconds()),
		Passed:              v.Passed(),
		LostSeqs:            nonNil(v.LostSeqs),
		ReorderedSeqs:       nonNil(v.ReorderedSeqs),
		DeliveredUnaccepted: v.DeliveredUnaccepted,
		Published:           final.Published,
		Replayed:            final.Replayed,
		DeadLettered:        final.DeadLettered,
		UndeliveredAtClose:  final.Undelivered,
		LeftInSpool:         v.LeftInSpool,
		LeftInSpoolSeqs:     nonNil(v.LeftInSpoolSeqs),
		CloseError:          final.CloseErr,
		Outages:             []OutageResult{},
		Crashes:             append([]CrashResult{}, d.crashes...),
		WorkloadMs:          workloadEnd.Milliseconds(),
		DrainMs:             (drainEnd - workloadEnd).Milliseconds(),
		VerifyMs:            (verifyEnd - drainEnd).Milliseconds(),
		StartedAt:           d.start.UTC(),
		Timeline:            res.samples,
		LatencySeries:       latencyBuckets(res.latencies, res.doneAt, bucketWidth(cfg.Duration), max(drainEnd, cfg.Duration)),
	}
	for _, s := range res.samples {
		r.MaxSpoolDepth = max(r.MaxSpoolDepth, s.Depth)
	}
	for i, w := range d.outages {
		open, drain, depth := analyzeOutage(w, res.transitions, res.samples)
		r.Outages = append(r.Outages, OutageResult{
			Fault: cfg.Fault, FaultAtMs: w.faultAt.Milliseconds(), HealedAtMs: w.healedAt.Milliseconds(),
			TimeToOpenMs: open, TimeToDrainMs: drain, MaxSpoolDepth: depth,
		})
		if i == 0 {
			r.TimeToOpenMs, r.TimeToDrainMs = open, drain
		}
	}
	r.Settings = ReportSettings{
		Brokers: strings.Join(d.brokers, ","), Topic: cfg.Topic, Partitions: cfg.Partitions,
		DurationMs: cfg.Duration.Milliseconds(), Rate: cfg.Rate, Size: cfg.Size, Keys: cfg.Keys,
		Workers: cfg.Workers, Fault: cfg.Fault, Outages: []string{}, CrashAtMs: cfg.CrashAt.Milliseconds(),
		DrainTimeoutMs: cfg.DrainTimeout.Milliseconds(), Bus: bus,
	}
	if len(cfg.Brokers) == 0 {
		r.Settings.Brokers = fmt.Sprintf("embedded (%d brokers)", cfg.EmbeddedBrokers)
	}
	for _, o := range cfg.Outages {
		r.Settings.Outages = append(r.Settings.Outages, o.String())
	}
	return r
}

func nonNil(s []int64) []int64 {
	if s == nil {
		return []int64{}
	}
	return s
}
