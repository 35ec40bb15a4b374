package batchorchestrator

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/google/uuid"

	"github.com/huleedu/huleedu/event"
	"github.com/huleedu/huleedu/resilience"
	"github.com/huleedu/huleedu/services/batchconductor/conductorclient"
	"github.com/huleedu/huleedu/services/contracts"
	"github.com/huleedu/huleedu/services/contracts/httpjson"
	"github.com/huleedu/huleedu/sqldb"
)

// maxIDLen bounds client-chosen ids.
const maxIDLen = 128

// RegisterBatchRequest is the body of POST /v1/batches.
type RegisterBatchRequest struct {
	// BatchID is the batch's id; empty means the orchestrator picks one.
	BatchID string `json:"batch_id,omitempty"`
	// EssayCount is the number of essay files the batch will receive
	// (1..MaxEssaysPerBatch). It may be omitted when EssayIDs is given.
	EssayCount int `json:"essay_count,omitempty"`
	// EssayIDs names the essay slots; empty means the orchestrator
	// generates EssayCount ids.
	EssayIDs []string `json:"essay_ids,omitempty"`
	// CourseCode is the course the essays were written for. Required.
	CourseCode string `json:"course_code"`
	// EssayInstructions is the assignment text.
	EssayInstructions string `json:"essay_instructions,omitempty"`
	// UserID is the teacher who owns the batch.
	UserID string `json:"user_id,omitempty"`
	// ClassID is the class the batch belongs to.
	ClassID string `json:"class_id,omitempty"`
	// RequestedPipeline is the pipeline to run; empty means
	// Config.DefaultPipeline ("full").
	RequestedPipeline string `json:"requested_pipeline,omitempty"`
}

// RegisterBatchResponse is the 202 body of POST /v1/batches.
type RegisterBatchResponse struct {
	BatchID       string   `json:"batch_id"`
	Status        string   `json:"status"`
	Phases        []string `json:"phases"`
	EssayIDs      []string `json:"essay_ids"`
	CorrelationID string   `json:"correlation_id"`
}

// handleRegister serves POST /v1/batches: validate, resolve the pipeline
// with the Batch Conductor, store the batch, publish BatchEssaysRegistered.
//
// Answers: 202 registered; 400 invalid request or unknown pipeline; 409
// batch id taken; 502 the conductor failed or returned a phase this
// orchestrator cannot run; 503 + Retry-After when the conductor's breaker
// is open, the bus did not accept the event or the database is
// unavailable (nothing is kept: repeating the request is safe).
func (s *Service) handleRegister(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	correlationID := httpjson.CorrelationID(w, r)
	var req RegisterBatchRequest
	if err := httpjson.Decode(w, r, &req, 1<<20); err != nil {
		httpjson.WriteErr(w, err)
		return
	}
	if err := s.normalise(&req); err != nil {
		httpjson.WriteErr(w, err)
		return
	}

	phases, err := s.conductor.Resolve(ctx, req.RequestedPipeline)
	if err != nil {
		s.writeConductorError(w, r, req.RequestedPipeline, err)
		return
	}
	for _, p := range phases {
		if _, ok := phaseCommands[p]; !ok {
			httpjson.WriteError(w, http.StatusBadGateway, httpjson.CodeDependencyFailed,
				fmt.Sprintf("the batch conductor resolved pipeline %q to phase %q, which this orchestrator cannot run", req.RequestedPipeline, p), "")
			return
		}
	}

	b := Batch{
		BatchID: req.BatchID, Status: StatusAwaitingContent, CourseCode: req.CourseCode,
		EssayInstructions: req.EssayInstructions, UserID: req.UserID, ClassID: req.ClassID,
		RequestedPipeline: req.RequestedPipeline, Phases: phases,
		ExpectedEssayCount: len(req.EssayIDs), EssayIDs: req.EssayIDs,
		CorrelationID: correlationID, CreatedAt: s.now().UTC(),
		PhaseResults: []PhaseResult{}, Essays: []contracts.EssayProcessingInputRefV1{}, FailedEssayIDs: []string{},
	}
	// Stored with its event, in one transaction: the pipeline's first
	// event always finds the batch, and a batch whose event was not
	// accepted is not kept.
	err = s.repo.Create(ctx, b, func(ctx context.Context) error {
		return s.pub.Publish(ctx, contracts.Message{
			EventType: event.TypeBatchEssaysRegistered, Key: b.BatchID, Identity: []string{b.BatchID}, CorrelationID: correlationID,
			Data: contracts.BatchEssaysRegistered{
				BatchID: b.BatchID, ExpectedEssayCount: b.ExpectedEssayCount, EssayIDs: b.EssayIDs,
				CourseCode: b.CourseCode, EssayInstructions: b.EssayInstructions, UserID: b.UserID, ClassID: b.ClassID,
				RequestedPipeline: b.RequestedPipeline,
			},
		})
	})
	switch {
	case errors.Is(err, ErrBatchExists):
		httpjson.WriteError(w, http.StatusConflict, httpjson.CodeConflict, fmt.Sprintf("batch %q is already registered", b.BatchID), "batch_id")
		return
	case contracts.IsPublishError(err) && !sqldb.IsRetriable(err):
		s.log.ErrorContext(ctx, "batch registration not accepted by the bus", "batch_id", b.BatchID, "error", err)
		w.Header().Set("Retry-After", "1")
		httpjson.WriteError(w, http.StatusServiceUnavailable, httpjson.CodePublishFailed,
			fmt.Sprintf("the registration event was not accepted (%v); nothing was kept, retry", err), "")
		return
	case err != nil:
		s.log.ErrorContext(ctx, "batch registration not stored", "batch_id", b.BatchID, "error", err)
		httpjson.WriteErr(w, err)
		return
	}
	s.log.InfoContext(ctx, "batch registered", "batch_id", b.BatchID, "essays", b.ExpectedEssayCount, "phases", phases)
	w.Header().Set("Location", "/v1/batches/"+b.BatchID)
	httpjson.Write(w, http.StatusAccepted, RegisterBatchResponse{
		BatchID: b.BatchID, Status: b.Status, Phases: phases, EssayIDs: b.EssayIDs, CorrelationID: correlationID})
}

// normalise validates req and fills its defaults: the batch id, the essay
// ids, the pipeline.
func (s *Service) normalise(req *RegisterBatchRequest) error {
	req.BatchID = strings.TrimSpace(req.BatchID)
	req.CourseCode = strings.TrimSpace(req.CourseCode)
	req.RequestedPipeline = strings.TrimSpace(req.RequestedPipeline)
	if err := checkID("batch_id", req.BatchID); err != nil {
		return err
	}
	if req.BatchID == "" {
		req.BatchID = uuid.NewString()
	}
	if req.CourseCode == "" {
		return httpjson.BadField("course_code", "course_code is required")
	}
	if len(req.CourseCode) > 32 {
		return httpjson.BadField("course_code", "course_code is longer than 32 bytes")
	}
	if req.RequestedPipeline == "" {
		req.RequestedPipeline = s.cfg.DefaultPipeline
	}
	if err := checkID("requested_pipeline", req.RequestedPipeline); err != nil {
		return err
	}
	maxEssays := s.cfg.MaxEssaysPerBatch
	if len(req.EssayIDs) == 0 {
		if req.EssayCount < 1 || req.EssayCount > maxEssays {
			return httpjson.BadField("essay_count", "essay_count must be between 1 and %d, got %d", maxEssays, req.EssayCount)
		}
		req.EssayIDs = make([]string, req.EssayCount)
		for i := range req.EssayIDs {
			req.EssayIDs[i] = contracts.EssaySlotID(req.BatchID, i)
		}
		return nil
	}
	if req.EssayCount != 0 && req.EssayCount != len(req.EssayIDs) {
		return httpjson.BadField("essay_ids", "essay_count is %d but essay_ids has %d ids", req.EssayCount, len(req.EssayIDs))
	}
	if len(req.EssayIDs) > maxEssays {
		return httpjson.BadField("essay_ids", "at most %d essays per batch, got %d", maxEssays, len(req.EssayIDs))
	}
	seen := make(map[string]bool, len(req.EssayIDs))
	for i, id := range req.EssayIDs {
		if id == "" {
			return httpjson.BadField("essay_ids", "essay_ids[%d] is empty", i)
		}
		if err := checkID(fmt.Sprintf("essay_ids[%d]", i), id); err != nil {
			return err
		}
		if seen[id] {
			return httpjson.BadField("essay_ids", "essay_ids[%d] = %q is a duplicate", i, id)
		}
		seen[id] = true
	}
	req.EssayIDs = slices.Clone(req.EssayIDs)
	return nil
}

func checkID(field, id string) error {
	if len(id) > maxIDLen {
		return httpjson.BadField(field, "%s is longer than %d bytes", field, maxIDLen)
	}
	if strings.ContainsFunc(id, func(r rune) bool { return unicode.IsControl(r) || r == '/' }) {
		return httpjson.BadField(field, "%s %q contains a control character or '/'", field, id)
	}
	return nil
}

// writeConductorError answers a failed pipeline resolution. An open
// breaker is a 503 with Retry-After (the conductor is known to be down and
// was not called), never a 500.
func (s *Service) writeConductorError(w http.ResponseWriter, r *http.Request, pipeline string, err error) {
	if errors.Is(err, conductorclient.ErrUnknownPipeline) {
		httpjson.WriteError(w, http.StatusBadRequest, httpjson.CodeInvalidField, err.Error(), "requested_pipeline")
		return
	}
	if errors.Is(err, resilience.ErrCircuitOpen) {
		w.Header().Set("Retry-After", strconv.Itoa(retryAfterSeconds(err, s.now())))
		httpjson.WriteError(w, http.StatusServiceUnavailable, httpjson.CodeDependencyUnavailable,
			"the batch conductor is unavailable (circuit breaker open); retry later", "")
		return
	}
	s.log.ErrorContext(r.Context(), "pipeline resolution failed", "pipeline", pipeline, "error", err)
	httpjson.WriteError(w, http.StatusBadGateway, httpjson.CodeDependencyFailed,
		fmt.Sprintf("the batch conductor could not resolve pipeline %q: %v", pipeline, err), "")
}

// retryAfterSeconds is the whole number of seconds until the breaker in
// err may admit a call again, at least 1.
func retryAfterSeconds(err error, now time.Time) int {
	oe, ok := errors.AsType[*resilience.OpenError](err)
	if !ok || oe.RetryAt.IsZero() {
		return 1
	}
	return max(1, int(math.Ceil(oe.RetryAt.Sub(now).Seconds())))
}
