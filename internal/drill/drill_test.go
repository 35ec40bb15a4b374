package drill

import (
	"context"
	"encoding/json"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/huleedu/huleedu/event"
	"github.com/huleedu/huleedu/kafkabus"
)

// shortConfig is a drill of a few seconds: a 1 s outage 1 s into a 3 s
// workload of 300 records/s, with timeouts scaled down to match.
func shortConfig(t *testing.T, fault string) Config {
	t.Helper()
	c := Config{
		Duration:      4 * time.Second,
		Rate:          300,
		Size:          256,
		Keys:          20,
		Workers:       8,
		Fault:         fault,
		Outages:       []Outage{{Start: time.Second, Length: 2 * time.Second}},
		DrainTimeout:  20 * time.Second,
		VerifyTimeout: 20 * time.Second,
	}
	c.PublishTimeout = time.Second
	c.Breaker = kafkabus.BreakerConfig{FailureThreshold: 3, RecoveryTimeout: 300 * time.Millisecond, SuccessThreshold: 1}
	c.Fallback.Dir = t.TempDir()
	return c
}

func runDrill(t *testing.T, cfg Config) *Report {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	rep, err := Run(ctx, cfg)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	t.Logf("outages %+v crashes %+v", rep.Outages, rep.Crashes)
	t.Logf("sent %d accepted %d delivered %d lost %d dup %d reordered %d spooled %d maxdepth %d open %v drain %v lat %+v transitions %v",
		rep.Sent, rep.Accepted, rep.Delivered, rep.Lost, rep.Duplicates, rep.Reordered, rep.Spooled, rep.MaxSpoolDepth,
		show(rep.TimeToOpenMs), show(rep.TimeToDrainMs), rep.PublishLatencyMs, rep.BreakerTransitions)
	return rep
}

func TestDrillPassesUnderEveryFault(t *testing.T) {
	for _, fault := range FaultKinds() {
		for _, fallback := range []kafkabus.FallbackMode{kafkabus.FallbackDisk, kafkabus.FallbackMemory} {
			t.Run(fault+"/"+string(fallback), func(t *testing.T) {
				t.Parallel()
				cfg := shortConfig(t, fault)
				cfg.Fallback.Mode = fallback
				if fallback == kafkabus.FallbackMemory {
					cfg.Fallback.Dir = ""
				}
				if fault == "none" {
					cfg.Outages = nil
				}
				rep := runDrill(t, cfg)
				if !rep.Passed {
					t.Fatalf("drill failed")
				}
			})
		}
	}
}

func TestCrashDrillDeliversEverythingTheKilledPublisherAccepted(t *testing.T) {
	tests := []struct {
		name    string
		fault   string
		outages []Outage
		spooled bool // the spool must hold records at the kill
	}{
		// Killed while the breaker is open and the spool holds the
		// outage's records: the restarted publisher must replay them
		// before its own. A blackhole opens the breaker about a publish
		// timeout after it starts, so the spool is in use at the kill.
		{"during an outage", "blackhole", []Outage{{Start: 500 * time.Millisecond, Length: 3300 * time.Millisecond}}, true},
		// Killed while publishing straight to Kafka.
		{"while healthy", "none", nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cfg := shortConfig(t, tt.fault)
			cfg.Outages = tt.outages
			// The breaker opens about 1 s into the blackhole: 1.5 s of
			// margin before the kill for a loaded machine.
			cfg.CrashAt = 3 * time.Second
			cfg.ChildCommand = testChildCommand
			rep := runDrill(t, cfg)
			if !rep.Passed {
				t.Fatalf("drill failed: lost %v reordered %v", rep.LostSeqs, rep.ReorderedSeqs)
			}
			if len(rep.Crashes) != 1 || rep.Crashes[0].RestartedAtMs < rep.Crashes[0].AtMs {
				t.Fatalf("crashes = %+v, want one kill followed by a restart", rep.Crashes)
			}
			if rep.Sent != int64(cfg.Rate)*4 {
				t.Fatalf("sent %d, want every scheduled seq (%d) published by one process or the other", rep.Sent, cfg.Rate*4)
			}
			if depth := depthBefore(rep, rep.Crashes[0].AtMs); tt.spooled && depth == 0 {
				t.Fatalf("spool depth before the kill was 0: the kill did not happen with records in the spool")
			}
			if rep.Rejected != rep.Crashes[0].InFlight {
				t.Fatalf("rejected %d, want exactly the %d calls in flight at the kill", rep.Rejected, rep.Crashes[0].InFlight)
			}
		})
	}
}

// depthBefore returns the queue depth of the last sample before atMs.
func depthBefore(rep *Report, atMs int64) int64 {
	var depth int64
	for _, s := range rep.Timeline {
		if s.AtMs < atMs {
			depth = s.Depth
		}
	}
	return depth
}

func TestVerifierCatchesPlantedMisbehaviour(t *testing.T) {
	const target = 50
	tests := []struct {
		name  string
		mode  plantMode
		check func(t *testing.T, rep *Report)
	}{
		{"a dropped accepted record is lost", plantDrop, func(t *testing.T, rep *Report) {
			if rep.Lost != 1 || len(rep.LostSeqs) != 1 || rep.LostSeqs[0] != target {
				t.Fatalf("lost %d %v, want exactly seq %d", rep.Lost, rep.LostSeqs, target)
			}
		}},
		{"two swapped records of a key are reordered", plantSwap, func(t *testing.T, rep *Report) {
			if rep.Reordered != 1 || len(rep.ReorderedSeqs) != 1 || rep.ReorderedSeqs[0] != target {
				t.Fatalf("reordered %d %v, want exactly seq %d", rep.Reordered, rep.ReorderedSeqs, target)
			}
			if rep.Lost != 0 {
				t.Fatalf("lost %d, want 0: a swap loses nothing", rep.Lost)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cfg := shortConfig(t, "none")
			cfg.Outages = nil
			cfg.Duration = 2 * time.Second
			cfg.WrapProducer = func(p kafkabus.Producer) kafkabus.Producer {
				return &plantedProducer{Producer: p, mode: tt.mode, target: target}
			}
			rep := runDrill(t, cfg)
			if rep.Passed || rep.ExitCode() != 1 {
				t.Fatalf("drill passed (exit %d) although the producer misbehaved", rep.ExitCode())
			}
			if rep.Accepted != rep.Sent {
				t.Fatalf("accepted %d of %d: the planted fault must look like success to the bus", rep.Accepted, rep.Sent)
			}
			tt.check(t, rep)
		})
	}
}

type plantMode int

const (
	plantDrop plantMode = iota // acknowledge the target without sending it
	plantSwap                  // hold the target back until the next record of its key went out
)

// plantedProducer misbehaves once, on purpose, between the bus and Kafka,
// in a way the bus cannot see: it reports the target record acknowledged
// and then drops it, or sends it only after a later record of its key.
type plantedProducer struct {
	kafkabus.Producer
	mode   plantMode
	target int64

	mu   sync.Mutex // serialises Produce calls, guards held and done
	held *event.Record
	done bool
}

func (p *plantedProducer) Produce(ctx context.Context, recs []event.Record) []error {
	p.mu.Lock()
	defer p.mu.Unlock()
	errs := make([]error, len(recs))
	var send []event.Record
	var index []int // index in recs of each sent record; -1 for the held one
	for i, r := range recs {
		switch {
		case !p.done && p.held == nil && seqOf(r) == p.target:
			if p.mode == plantDrop {
				p.done = true
			} else {
				held := recs[i].Clone() // the caller's bytes are reused once acknowledged
				p.held = &held
			}
		case p.held != nil && string(r.Key) == string(p.held.Key):
			send, index = append(send, r, *p.held), append(index, i, -1)
			p.held, p.done = nil, true
		default:
			send, index = append(send, r), append(index, i)
		}
	}
	out := p.Producer.Produce(ctx, send)
	for j, i := range index {
		if i >= 0 {
			errs[i] = out[j]
		}
	}
	return errs
}

// Close closes the wrapped producer, as the bus would have.
func (p *plantedProducer) Close(ctx context.Context) error {
	if c, ok := p.Producer.(interface{ Close(context.Context) error }); ok {
		return c.Close(ctx)
	}
	return nil
}

func seqOf(r event.Record) int64 {
	var v struct {
		Data recordData `json:"data"`
	}
	if err := json.Unmarshal(r.Value, &v); err != nil {
		return -1
	}
	return v.Data.Seq
}

// The drain is cut short with the breaker still open: on disk, the
// records left are durable, so the drill passes, counting them as left in
// the spool (exactly those, read from the spool) and none as lost; from a
// memory queue, the records left are gone, so the drill fails, and every
// one it lost was undelivered at close.
func TestDrainCutShortLeavesRecordsInTheSpoolOrLosesThemFromMemory(t *testing.T) {
	for _, fallback := range []kafkabus.FallbackMode{kafkabus.FallbackDisk, kafkabus.FallbackMemory} {
		t.Run(string(fallback), func(t *testing.T) {
			t.Parallel()
			cfg := shortConfig(t, "blackhole")
			cfg.Fallback.Mode = fallback
			if fallback == kafkabus.FallbackMemory {
				cfg.Fallback.Dir = ""
			}
			// The fault lasts to the end of the workload and the breaker
			// stays open past it, so nothing drains in the 1 ms allowed.
			cfg.Outages = []Outage{{Start: time.Second, Length: 3 * time.Second}}
			cfg.Breaker.RecoveryTimeout = 5 * time.Second
			cfg.DrainTimeout = time.Millisecond
			rep := runDrill(t, cfg)
			if fallback == kafkabus.FallbackDisk {
				if !rep.Passed || rep.ExitCode() != 0 || rep.Lost != 0 || rep.LeftInSpool == 0 {
					t.Fatalf("passed %v (exit %d), lost %d, left in spool %d: want a passing drill with records left in the spool",
						rep.Passed, rep.ExitCode(), rep.Lost, rep.LeftInSpool)
				}
				if rep.Delivered+rep.LeftInSpool != rep.Accepted || rep.SpoolDir != cfg.Fallback.Dir || rep.CloseError != "" {
					t.Fatalf("delivered %d + left in spool %d != accepted %d, or spool dir %q, close error %q",
						rep.Delivered, rep.LeftInSpool, rep.Accepted, rep.SpoolDir, rep.CloseError)
				}
				return
			}
			if rep.Passed || rep.Lost == 0 || rep.UndeliveredAtClose == 0 || rep.LeftInSpool != 0 {
				t.Fatalf("passed %v, lost %d, undelivered at close %d, left in spool %d: want a failed drill with the memory queue's records lost",
					rep.Passed, rep.Lost, rep.UndeliveredAtClose, rep.LeftInSpool)
			}
			if rep.Lost > rep.UndeliveredAtClose {
				t.Fatalf("lost %d, but only %d were left at close", rep.Lost, rep.UndeliveredAtClose)
			}
		})
	}
}

// The report prints the configuration the publisher ran: the
// kafkabus.Config, with the drill's own defaults where they differ from a
// service's.
func TestReportCarriesTheBusConfiguration(t *testing.T) {
	cfg := shortConfig(t, "none")
	cfg.Outages = nil
	cfg.Duration = time.Second
	cfg.Drain.RetryMin, cfg.Drain.OpenPoll = 20*time.Millisecond, 30*time.Millisecond
	rep := runDrill(t, cfg)
	bus := rep.Settings.Bus
	if bus.Drain.RetryMin != 20*time.Millisecond || bus.Drain.OpenPoll != 30*time.Millisecond || bus.Drain.RetryMax != time.Second ||
		bus.Breaker.FailureThreshold != 3 || bus.Breaker.Name != "drill.kafka_producer" || bus.Fallback.Dir != cfg.Fallback.Dir ||
		bus.Drain.Batch != 500 || len(bus.Brokers) != 3 {
		t.Fatalf("report's bus configuration %+v is not the one the drill ran", bus)
	}
}

func TestChildPublisherThatCannotStartIsAnError(t *testing.T) {
	cfg := shortConfig(t, "none")
	cfg.Outages = nil
	cfg.CrashAt = time.Second
	cfg.ChildCommand = func(ctx context.Context) *exec.Cmd {
		return exec.CommandContext(ctx, "sh", "-c", "echo cannot open the spool >&2; exit 3")
	}
	rep, err := Run(context.Background(), cfg)
	if err == nil || !strings.Contains(err.Error(), "cannot open the spool") {
		t.Fatalf("Run = %v, %v; want an error carrying the child's stderr", rep, err)
	}
}
