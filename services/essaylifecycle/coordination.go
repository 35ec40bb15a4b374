package essaylifecycle

import (
	"context"

	"github.com/huleedu/huleedu/event"
	"github.com/huleedu/huleedu/services/contracts"
)

// HandleBatchEssaysRegistered creates the batch's essay slots, fills them
// with any uploads that arrived before the registration, and publishes
// BatchEssaysReady if that settles every slot. A repeated registration
// changes nothing.
func (s *Service) HandleBatchEssaysRegistered(ctx context.Context, env *event.Envelope) error {
	reg, err := event.Decode[contracts.BatchEssaysRegistered](env)
	if err != nil {
		return err
	}
	switch {
	case reg.BatchID == "":
		return contracts.InvalidEvent(env, "batch_id is empty")
	case reg.ExpectedEssayCount < 1:
		return contracts.InvalidEvent(env, "expected_essay_count is %d, want >= 1", reg.ExpectedEssayCount)
	case len(reg.EssayIDs) != 0 && len(reg.EssayIDs) != reg.ExpectedEssayCount:
		return contracts.InvalidEvent(env, "essay_ids has %d ids for expected_essay_count %d", len(reg.EssayIDs), reg.ExpectedEssayCount)
	}
	ids := reg.EssayIDs
	if len(ids) == 0 {
		ids = make([]string, reg.ExpectedEssayCount)
		for i := range ids {
			ids[i] = contracts.EssaySlotID(reg.BatchID, i)
		}
	}
	return s.repo.Upsert(ctx, reg.BatchID, func(ctx context.Context, st *BatchState) (bool, error) {
		if st.Registered {
			s.log.InfoContext(ctx, "batch registered again; ignored", "batch_id", st.BatchID, "event_id", env.EventID)
			return false, nil
		}
		now := s.now().UTC()
		st.Registered = true
		st.ExpectedEssayCount = reg.ExpectedEssayCount
		st.CourseCode, st.RequestedPipeline, st.CorrelationID = reg.CourseCode, reg.RequestedPipeline, env.CorrelationID
		if st.CreatedAt.IsZero() {
			st.CreatedAt = now
		}
		st.Essays = make([]Essay, len(ids))
		for i, id := range ids {
			st.Essays[i] = Essay{EssayID: id, State: StateAwaitingContent, UpdatedAt: now}
		}
		pending := st.PendingUploads
		st.PendingUploads = []Upload{}
		for _, u := range pending {
			s.place(ctx, st, u)
		}
		return true, s.maybeReady(ctx, st)
	})
}

// HandleEssayContentProvisioned puts the provisioned content into the
// batch's first empty essay slot (or keeps it until the batch is
// registered) and publishes BatchEssaysReady when that settles the batch.
// An upload seen before changes nothing.
func (s *Service) HandleEssayContentProvisioned(ctx context.Context, env *event.Envelope) error {
	p, err := event.Decode[contracts.EssayContentProvisionedV1](env)
	if err != nil {
		return err
	}
	if p.BatchID == "" || p.FileUploadID == "" || p.ContentID == "" {
		return contracts.InvalidEvent(env, "batch_id, file_upload_id and content_id are required")
	}
	return s.receive(ctx, env, p.BatchID, Upload{FileUploadID: p.FileUploadID, FileName: p.FileName, ContentID: p.ContentID})
}

// HandleEssayValidationFailed counts a file that failed validation as a
// failed essay of the batch: it takes a slot (state failed) so the batch
// does not wait for it. The registration's count is the number of files
// the teacher uploads, valid or not.
func (s *Service) HandleEssayValidationFailed(ctx context.Context, env *event.Envelope) error {
	f, err := event.Decode[contracts.EssayValidationFailedV1](env)
	if err != nil {
		return err
	}
	if f.BatchID == "" || f.FileUploadID == "" {
		return contracts.InvalidEvent(env, "batch_id and file_upload_id are required")
	}
	return s.receive(ctx, env, f.BatchID, Upload{FileUploadID: f.FileUploadID, FileName: f.FileName, Failed: true,
		ValidationErrorCode: f.ValidationErrorCode, Reason: f.Reason})
}

func (s *Service) receive(ctx context.Context, env *event.Envelope, batchID string, u Upload) error {
	u.ReceivedAt = s.now().UTC()
	return s.repo.Upsert(ctx, batchID, func(ctx context.Context, st *BatchState) (bool, error) {
		if st.knowsUpload(u.FileUploadID) {
			s.log.InfoContext(ctx, "upload seen before; ignored", "batch_id", batchID, "file_upload_id", u.FileUploadID, "event_id", env.EventID)
			return false, nil
		}
		if st.CreatedAt.IsZero() {
			st.CreatedAt = u.ReceivedAt
		}
		if !st.Registered {
			st.PendingUploads = append(st.PendingUploads, u)
			s.log.InfoContext(ctx, "upload before registration; kept until the batch is registered", "batch_id", batchID, "file_upload_id", u.FileUploadID)
			return true, nil
		}
		s.place(ctx, st, u)
		return true, s.maybeReady(ctx, st)
	})
}

// place puts u into the first slot awaiting content, or among the excess
// uploads when every slot is taken.
func (s *Service) place(ctx context.Context, st *BatchState, u Upload) {
	for i := range st.Essays {
		e := &st.Essays[i]
		if e.State != StateAwaitingContent {
			continue
		}
		e.FileUploadID, e.FileName, e.UpdatedAt = u.FileUploadID, u.FileName, u.ReceivedAt
		if u.Failed {
			e.State, e.FailedPhase = StateFailed, FailedAtUpload
			e.FailureReason = u.ValidationErrorCode + ": " + u.Reason
		} else {
			e.State, e.ContentID = StateContentReady, u.ContentID
		}
		return
	}
	s.log.WarnContext(ctx, "upload beyond the batch's expected essay count; not processed",
		"batch_id", st.BatchID, "file_upload_id", u.FileUploadID, "expected", st.ExpectedEssayCount)
	st.ExcessUploads = append(st.ExcessUploads, u)
}

// maybeReady publishes BatchEssaysReady once, when the batch is registered
// and every slot is settled.
func (s *Service) maybeReady(ctx context.Context, st *BatchState) error {
	if !st.Registered || st.ReadyPublished || !st.settled() {
		return nil
	}
	ready := contracts.BatchEssaysReady{BatchID: st.BatchID, CourseCode: st.CourseCode,
		Essays: []contracts.EssayProcessingInputRefV1{}, FailedEssayIDs: []string{}}
	for _, e := range st.Essays {
		if e.State == StateFailed {
			ready.FailedEssayIDs = append(ready.FailedEssayIDs, e.EssayID)
		} else {
			ready.Essays = append(ready.Essays, e.inputRef())
		}
	}
	err := s.pub.Publish(ctx, contracts.Message{EventType: event.TypeBatchEssaysReady, Key: st.BatchID, Data: ready,
		Identity: []string{st.BatchID}, CorrelationID: st.CorrelationID})
	if err != nil {
		return err
	}
	st.ReadyPublished, st.ReadyAt = true, s.now().UTC()
	s.log.InfoContext(ctx, "batch ready", "batch_id", st.BatchID, "essays", len(ready.Essays), "failed", len(ready.FailedEssayIDs))
	return nil
}
