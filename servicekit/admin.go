package servicekit

import (
	"context"
	"encoding/json"
	"net/http"
	"time"

	"github.com/huleedu/huleedu/kafkabus"
	"github.com/huleedu/huleedu/observability"
	"github.com/huleedu/huleedu/resilience"
	"github.com/huleedu/huleedu/spool"
)

// readyTimeout bounds the Kafka ping of one /readyz request, so a probe
// answers within a typical probe timeout even while Kafka is silent.
const readyTimeout = 2 * time.Second

// Readiness statuses in /readyz bodies.
const (
	StatusReady       = "ready"       // Kafka reachable
	StatusDegraded    = "degraded"    // Kafka unreachable, the fallback queue accepts: ready
	StatusUnavailable = "unavailable" // neither: not ready
	StatusStopping    = "stopping"    // shutting down: not ready
)

// Readiness is the body of /readyz.
type Readiness struct {
	Status  string `json:"status"`
	Service string `json:"service"`
	// Kafka is "reachable" or "unreachable: <why>".
	Kafka string `json:"kafka,omitempty"`
	// Fallback describes the fallback queue: "accepting", "full",
	// "failed: <cause>" (a disk spool whose storage failed, refusing
	// appends until it works again), or "none" when
	// CIRCUIT_BREAKER_ENABLED=false.
	Fallback string       `json:"fallback,omitempty"`
	Queue    *spool.Stats `json:"fallback_queue,omitempty"`
}

// CircuitBreakersReport is the body of /circuit-breakers: every breaker's
// snapshot, and with breakers enabled the fallback queue and the bus
// counters.
type CircuitBreakersReport struct {
	Service               string                `json:"service"`
	CircuitBreakerEnabled bool                  `json:"circuit_breaker_enabled"`
	Breakers              []resilience.Snapshot `json:"breakers"`
	FallbackQueue         *spool.Stats          `json:"fallback_queue"`
	Bus                   *kafkabus.Stats       `json:"bus,omitempty"`
}

// adminHandler serves the operator endpoints:
//
//	/healthz           200 while the process serves requests
//	/readyz            200 "ready" (Kafka reachable) or "degraded" (Kafka
//	                   unreachable but the fallback queue accepts); 503
//	                   "unavailable" (Kafka unreachable and the queue full
//	                   or failed) or "stopping"
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
func (r *Runner) Readiness(ctx context.Context) Readiness {
	rd := Readiness{Service: r.s.Service, Fallback: "none"}
	if r.stopping.Load() {
		rd.Status = StatusStopping
		return rd
	}
	pctx, cancel := context.WithTimeout(ctx, readyTimeout)
	defer cancel()
	kafkaErr := r.kafka.Plain.Ping(pctx)
	if kafkaErr == nil {
		rd.Kafka = "reachable"
	} else {
		rd.Kafka = "unreachable: " + kafkaErr.Error()
	}
	accepts := false
	if rb := r.kafka.Resilient; rb != nil {
		q := rb.Stats().Queue
		rd.Queue = &q
		rd.Fallback, accepts = fallbackState(q)
	}
	switch {
	case kafkaErr == nil:
		rd.Status = StatusReady
	case accepts:
		rd.Status = StatusDegraded
	default:
		rd.Status = StatusUnavailable
	}
	return rd
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
		Breakers:              r.breakers.Snapshots(),
	}
	if rb := r.kafka.Resilient; rb != nil {
		st := rb.Stats()
		rep.FallbackQueue = &st.Queue
		rep.Bus = &st
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
