package drill

import (
	"encoding/json"
	"io"
	"time"
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
	Lost         int64   `json:"lost"`          // contract: accepted seqs absent from Kafka
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
	Passed         bool    `json:"passed"` // contract: lost == 0 && reordered == 0

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
	// Close gave up (they also show up as lost).
	UndeliveredAtClose int64 `json:"undelivered_at_close"`
	// LeftInSpool counts records a disk spool still held when Close gave
	// up: durable, delivered by the next process on that spool, but not
	// within this drill, so they also show up as lost.
	LeftInSpool int64 `json:"left_in_spool"`
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

// ReportSettings echo the configuration the drill ran with, under the
// names of the drill's flags. Durations are in milliseconds.
type ReportSettings struct {
	Brokers          string   `json:"brokers"` // the addresses, or "embedded (N brokers)"
	Topic            string   `json:"topic"`
	Partitions       int      `json:"partitions"`
	DurationMs       int64    `json:"duration_ms"`
	Rate             int      `json:"rate"`
	Size             int      `json:"size"`
	Keys             int      `json:"keys"`
	Workers          int      `json:"workers"`
	Fault            string   `json:"fault"`
	Outages          []string `json:"outage"` // LENGTH@START, as the flag takes them
	Fallback         string   `json:"fallback"`
	Overflow         string   `json:"overflow"`
	CrashAtMs        int64    `json:"crash_at_ms,omitempty"`
	PublishTimeoutMs int64    `json:"publish_timeout_ms"`
	FailureThreshold int      `json:"failure_threshold"`
	RecoveryTimeout  int64    `json:"recovery_timeout_ms"`
	SuccessThreshold int      `json:"success_threshold"`
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

// ExitCode is 0 when the drill passed and 1 when it ran and failed.
func (r *Report) ExitCode() int {
	if r.Passed {
		return 0
	}
	return 1
}
