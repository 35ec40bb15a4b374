package servicekit

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"sync"
	"time"

	"github.com/huleedu/huleedu/kafkabus"
	"github.com/huleedu/huleedu/observability"
	"github.com/huleedu/huleedu/outbox"
	"github.com/huleedu/huleedu/resilience"
	"github.com/huleedu/huleedu/spool"
	"github.com/huleedu/huleedu/sqldb"
)

// readyTimeout bounds the Kafka ping of one /readyz request, so a probe
// answers within a typical probe timeout even while Kafka is silent.
const readyTimeout = 2 * time.Second

// Readiness statuses in /readyz bodies.
const (
	StatusReady       = "ready"       // Kafka (and the database) reachable
	StatusDegraded    = "degraded"    // Kafka unreachable, the fallback queue or the outbox accepts: ready
	StatusUnavailable = "unavailable" // the database unreachable, or Kafka and nothing accepts: not ready
	StatusStopping    = "stopping"    // shutting down: not ready
)

// Readiness is the body of /readyz.
type Readiness struct {
	Status  string `json:"status"`
	Service string `json:"service"`
	// Kafka is "reachable" or "unreachable: <why>".
	Kafka string `json:"kafka,omitempty"`
	// Database is "reachable" or "unreachable: <why>" for a service with
	// a database; absent for one without.
	Database string `json:"database,omitempty"`
	// Fallback describes the fallback queue: "accepting", "full",
	// "failed: <cause>" (a disk spool whose storage failed, refusing
	// appends until it works again), "outbox" (events wait in the
	// outbox table, which accepts while the database does), or "none"
	// when CIRCUIT_BREAKER_ENABLED=false.
	Fallback string       `json:"fallback,omitempty"`
	Queue    *spool.Stats `json:"fallback_queue,omitempty"`
	// Outbox is the outbox's backlog in outbox mode, while the database
	// answers.
	Outbox *OutboxBacklog `json:"outbox,omitempty"`
}

// OutboxBacklog is what the outbox holds, for /readyz.
type OutboxBacklog struct {
	// Pending rows wait to be published; Retrying of them failed and
	// wait for their next attempt.
	Pending  int64 `json:"pending"`
	Retrying int64 `json:"retrying"`
	// OldestAgeSeconds is the age of the oldest pending row, 0 when none
	// is.
	OldestAgeSeconds float64 `json:"oldest_age_seconds"`
	// DeadLetters are rows Kafka rejected for good (huleedu outbox).
	DeadLetters int64 `json:"dead_letters"`
	// Relays are the live relays on the table, of every instance.
	Relays int `json:"relays"`
}

// CircuitBreakersReport is the body of /circuit-breakers: every breaker's
// snapshot, and with breakers enabled the fallback queue and the bus
// counters, or in outbox mode the relay's.
type CircuitBreakersReport struct {
	Service               string                `json:"service"`
	CircuitBreakerEnabled bool                  `json:"circuit_breaker_enabled"`
	PublishMode           PublishMode           `json:"publish_mode"`
	Breakers              []resilience.Snapshot `json:"breakers"`
	FallbackQueue         *spool.Stats          `json:"fallback_queue"`
	Bus                   *kafkabus.Stats       `json:"bus,omitempty"`
	OutboxRelay           *outbox.RelayStats    `json:"outbox_relay,omitempty"`
}

// adminHandler serves the operator endpoints:
//
//	/healthz           200 while the process serves requests
//	/readyz            200 "ready" (Kafka and the database reachable) or
//	                   "degraded" (Kafka unreachable but the fallback queue
//	                   or the outbox accepts); 503 "unavailable" (the
//	                   database unreachable, or Kafka unreachable and the
//	                   queue full or failed) or "stopping"
//	/metrics           the service's Prometheus registry
//	/circuit-breakers  CircuitBreakersReport as JSON
//
// Its errors (an unknown path, a POST) are JSON too.
func (r *Runner) adminHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "alive", "service": r.s.Service})
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, req *http.Request) {
		rd := r.Readiness(req.Context())
		code := http.StatusOK
		if rd.Status != StatusReady && rd.Status != StatusDegraded {
			code = http.StatusServiceUnavailable
		}
		writeJSON(w, code, rd)
	})
	mux.Handle("GET /metrics", observability.Handler(r.metrics))
	mux.HandleFunc("GET /circuit-breakers", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, r.CircuitBreakers())
	})
	return JSONErrors(mux)
}

// Readiness reports whether the service can accept work: Kafka answers a
// ping, or (with breakers enabled) the fallback queue has room, in which
// case the service is degraded but ready, since what it publishes is
// accepted and delivered later.
//
// A service with a database is not ready while its database does not
// answer: its API would fail every request that changes state, and its
// consumer waits. Its outbox's backlog is reported as well.
func (r *Runner) Readiness(ctx context.Context) Readiness {
	rd := Readiness{Service: r.s.Service, Fallback: "none"}
	if r.stopping.Load() {
		rd.Status = StatusStopping
		return rd
	}
	pctx, cancel := context.WithTimeout(ctx, readyTimeout)
	defer cancel()
	// Kafka and the database are asked at once: a probe waits for the
	// slower of the two, at most readyTimeout.
	var (
		wg    sync.WaitGroup
		dbErr error
	)
	if r.db != nil {
		wg.Go(func() { dbErr = r.databaseReadiness(pctx, &rd) })
	}
	kafkaErr := r.kafka.Plain.Ping(pctx)
	wg.Wait()
	if kafkaErr == nil {
		rd.Kafka = "reachable"
	} else {
		rd.Kafka = "unreachable: " + kafkaErr.Error()
	}
	accepts := false
	switch {
	case r.kafka.Resilient != nil:
		q := r.kafka.Resilient.Stats().Queue
		rd.Queue = &q
		rd.Fallback, accepts = fallbackState(q)
	case r.kafka.Outbox != nil:
		rd.Fallback, accepts = "outbox", dbErr == nil
	}
	switch {
	case dbErr != nil:
		rd.Status = StatusUnavailable
	case kafkaErr == nil:
		rd.Status = StatusReady
	case accepts:
		rd.Status = StatusDegraded
	default:
		rd.Status = StatusUnavailable
	}
	return rd
}

// databaseReadiness pings the database and, in outbox mode, reads the
// outbox's backlog into rd; it returns why the database is not usable.
//
// SQLite has one connection, which a consumer's transaction holds while
// its handler runs: a ping that waits for it until the probe's deadline
// reports the database busy, not unreachable (the connection is in use
// because the database answers).
func (r *Runner) databaseReadiness(ctx context.Context, rd *Readiness) error {
	db := r.db.DB
	err := db.Ping(ctx)
	if err != nil && db.Dialect() == sqldb.SQLite && errors.Is(err, context.DeadlineExceeded) && db.SQL().Stats().InUse > 0 {
		rd.Database = "reachable (busy with a transaction)"
		return nil
	}
	if err != nil {
		rd.Database = "unreachable: " + err.Error()
		return err
	}
	rd.Database = "reachable"
	if r.kafka.Outbox == nil {
		return nil
	}
	st, err := r.db.Outbox.Stats(ctx)
	if err != nil {
		// The ping answered: a failed count is a slow database, not a
		// missing one, and says nothing about readiness.
		return nil
	}
	ob := &OutboxBacklog{Pending: st.Pending, Retrying: st.Retrying, DeadLetters: st.DeadLetters, Relays: len(st.Relays)}
	if !st.OldestPendingAt.IsZero() {
		ob.OldestAgeSeconds = max(time.Since(st.OldestPendingAt).Seconds(), 0)
	}
	rd.Outbox = ob
	return nil
}

// fallbackState describes a fallback queue with stats q for /readyz and
// reports whether it accepts another record: not while its storage is
// failed, nor when it is full.
func fallbackState(q spool.Stats) (string, bool) {
	switch {
	case q.Failed != nil:
		return "failed: " + q.Failed.Cause, false
	case q.MaxRecords > 0 && q.Records >= q.MaxRecords, q.MaxBytes > 0 && q.Bytes >= q.MaxBytes:
		return "full", false
	}
	return "accepting", true
}

// CircuitBreakers returns what /circuit-breakers serves.
func (r *Runner) CircuitBreakers() CircuitBreakersReport {
	rep := CircuitBreakersReport{
		Service:               r.s.Service,
		CircuitBreakerEnabled: r.s.CircuitBreakerEnabled,
		PublishMode:           r.kafka.Mode,
		Breakers:              r.breakers.Snapshots(),
	}
	if rb := r.kafka.Resilient; rb != nil {
		st := rb.Stats()
		rep.FallbackQueue = &st.Queue
		rep.Bus = &st
	}
	if rl := r.kafka.Relay; rl != nil {
		st := rl.Stats()
		rep.OutboxRelay = &st
	}
	return rep
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	body, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		http.Error(w, "servicekit: encoding response: "+err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	_, _ = w.Write(append(body, '\n'))
}
