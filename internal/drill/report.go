package drill

import (
	"encoding/json"
	"io"
	"time"

	"github.com/huleedu/huleedu/kafkabus"
)

// Report is the drill's result. The JSON names of the fields marked
// "contract" are read by other tooling and never change; the others are
// additions.
type Report struct {
	Sent         int64   `json:"sent"`          // contract: Publish calls made (seqs 1..sent)
	Accepted     int64   `json:"accepted"`      // contract: Publish returned nil
	Rejected     int64   `json:"rejected"`      // contract: sent - accepted
	RejectedSeqs []int64 `json:"rejected_seqs"` // contract: every seq not accepted, ascending
	Delivered    int64   `json:"delivered"`     // contract: distinct accepted seqs found in Kafka
	Lost         int64   `json:"lost"`          // contract: accepted seqs neither in Kafka nor left in the disk spool
	Duplicates   int64   `json:"duplicates"`    // contract: extra copies of any seq in Kafka
	Reordered    int64   `json:"reordered"`     // contract: see Verdict.Reordered
	Spooled      int64   `json:"spooled"`       // contract: records accepted into the fallback queue
	// MaxSpoolDepth is the largest queue depth (records) seen by the
	// 100 ms sampler. Contract.
	MaxSpoolDepth      int64        `json:"max_spool_depth"`
	BreakerTransitions []Transition `json:"breaker_transitions"` // contract
	// TimeToOpenMs is, for the first outage, the time from the fault's
	// start to the breaker's first transition to open; null when the
	// breaker did not open during it. Contract.
	TimeToOpenMs *int64 `json:"time_to_open_ms"`
	// TimeToDrainMs is, for the first outage, the time from the fault's
	// end until the queue was empty for good (see the package doc); null
	// when nothing was queued or the queue never emptied. Contract.
	TimeToDrainMs    *int64  `json:"time_to_drain_ms"`
	PublishLatencyMs Latency `json:"publish_latency_ms"` // contract
	// ThroughputPerS is accepted records per second of the publishing
	// phase (from the workload's start until the last Publish returned).
	// Contract.
	ThroughputPerS float64 `json:"throughput_per_s"`
	Passed         bool    `json:"passed"` // contract: lost == 0 && reordered == 0 (records left in the spool are not lost)

	// Additions.

	// LostSeqs and ReorderedSeqs name the offending seqs (at most 1000
	// each) so a failure can be traced in the topic.
	LostSeqs      []int64 `json:"lost_seqs"`
	ReorderedSeqs []int64 `json:"reordered_seqs"`
	// DeliveredUnaccepted counts distinct seqs found in Kafka whose
	// Publish did not return nil (a timed-out call that landed, or a call
	// cut short by a crash): not a loss, and not order-checked.
	DeliveredUnaccepted int64 `json:"delivered_unaccepted"`
	// Published, Replayed and DeadLettered are the bus's counters, summed
	// over publisher processes.
	Published    int64 `json:"published"`
	Replayed     int64 `json:"replayed"`
	DeadLettered int64 `json:"dead_lettered"`
	// UndeliveredAtClose counts records a memory queue still held when
	// Close gave up: gone with it, so those not in Kafka count as lost.
	UndeliveredAtClose int64 `json:"undelivered_at_close"`
	// LeftInSpool counts accepted records not in Kafka that the disk spool
	// still held when Close gave up on the drain (a drain timeout shorter
	// than the outage): durable, and delivered by the next process that
	// opens the spool, so not lost. LeftInSpoolSeqs lists them (at most
	// 1000) and SpoolDir names the spool, which the drill keeps even when
	// it is a temp folder.
	LeftInSpool     int64   `json:"left_in_spool"`
	LeftInSpoolSeqs []int64 `json:"left_in_spool_seqs"`
	SpoolDir        string  `json:"spool_dir,omitempty"`
	// CloseError is what the bus's Close reported when it did not finish
	// cleanly (a drain cut short by the drain timeout, for example).
	CloseError    string          `json:"close_error,omitempty"`
	Outages       []OutageResult  `json:"outages"`
	Crashes       []CrashResult   `json:"crashes"`
	Settings      ReportSettings  `json:"settings"`
	WorkloadMs    int64           `json:"workload_ms"`
	DrainMs       int64           `json:"drain_ms"`
	VerifyMs      int64           `json:"verify_ms"`
	StartedAt     time.Time       `json:"started_at"`
	Timeline      []Sample        `json:"-"` // for the HTML report
	LatencySeries []LatencyBucket `json:"-"` // for the HTML report
}

// Transition is one breaker state change, at_ms after the workload
// started.
type Transition struct {
	AtMs int64  `json:"at_ms"`
	From string `json:"from"` // "closed", "open" or "half_open"
	To   string `json:"to"`
}

// Latency summarises Publish call durations in milliseconds.
type Latency struct {
	P50  float64 `json:"p50"`
	P99  float64 `json:"p99"`
	P999 float64 `json:"p999"`
	Max  float64 `json:"max"`
}

// OutageResult is what happened during one outage. Times are milliseconds
// after the workload started; FaultAtMs and HealedAtMs are when the fault
// was really applied and healed. TimeToOpenMs and TimeToDrainMs are defined
// as on Report, for this outage; null when not applicable.
type OutageResult struct {
	Fault         string `json:"fault"`
	FaultAtMs     int64  `json:"fault_at_ms"`
	HealedAtMs    int64  `json:"healed_at_ms"`
	TimeToOpenMs  *int64 `json:"time_to_open_ms"`
	TimeToDrainMs *int64 `json:"time_to_drain_ms"`
	MaxSpoolDepth int64  `json:"max_spool_depth"`
}

// CrashResult describes one SIGKILL of the publishing process: when, how
// many Publish calls were cut short (their seqs are in rejected_seqs), and
// when the restarted process was ready.
type CrashResult struct {
	AtMs          int64 `json:"at_ms"`
	InFlight      int64 `json:"in_flight"`
	RestartedAtMs int64 `json:"restarted_at_ms"`
}

// ReportSettings echo the configuration the drill ran with: the workload
// and faults under the names of the drill's flags (durations in
// milliseconds), and Bus, the kafkabus.Config the publisher opened, as a
// service would from its KAFKA_* variables (the brokers it used and its
// spool's directory included; durations in nanoseconds, as encoding/json
// writes them, so the JSON decodes back into a kafkabus.Config).
type ReportSettings struct {
	Brokers        string          `json:"brokers"` // the addresses, or "embedded (N brokers)"
	Topic          string          `json:"topic"`
	Partitions     int             `json:"partitions"`
	DurationMs     int64           `json:"duration_ms"`
	Rate           int             `json:"rate"`
	Size           int             `json:"size"`
	Keys           int             `json:"keys"`
	Workers        int             `json:"workers"`
	Fault          string          `json:"fault"`
	Outages        []string        `json:"outage"` // LENGTH@START, as the flag takes them
	CrashAtMs      int64           `json:"crash_at_ms,omitempty"`
	DrainTimeoutMs int64           `json:"drain_timeout_ms"`
	Bus            kafkabus.Config `json:"bus"`
}

// Sample is the state of the drill at one 100 ms tick: cumulative counts
// and the queue and breaker as seen then.
type Sample struct {
	AtMs     int64  `json:"at_ms"`    // since the workload started
	Sent     int64  `json:"sent"`     // Publish calls made so far
	Accepted int64  `json:"accepted"` // of which returned nil
	Acked    int64  `json:"acked"`    // records Kafka acknowledged (direct + replayed)
	Depth    int64  `json:"depth"`    // records in the fallback queue
	Bytes    int64  `json:"bytes"`
	State    string `json:"state"` // breaker state, or "down" while no publisher runs
}

// LatencyBucket holds the Publish latency percentiles (ms) of the calls
// that returned within [AtMs, AtMs+WidthMs).
type LatencyBucket struct {
	AtMs    int64   `json:"at_ms"`
	WidthMs int64   `json:"width_ms"`
	Count   int     `json:"count"` // calls in the bucket; the percentiles are 0 when none
	P50     float64 `json:"p50"`
	P99     float64 `json:"p99"`
	Max     float64 `json:"max"`
}

// WriteJSON writes r as indented JSON followed by a newline.
func (r *Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// ExitCode is 0 when the drill passed and 1 when it ran and failed. A
// drill that ends with records left in the disk spool but none lost
// passed: the spool is durable and delivers them when it is next opened;
// the summary and the HTML page say how many and where.
func (r *Report) ExitCode() int {
	if r.Passed {
		return 0
	}
	return 1
}
