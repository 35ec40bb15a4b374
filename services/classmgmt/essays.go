package classmgmt

import (
	"context"
	"net/http"
	"strconv"
	"strings"

	"github.com/huleedu/huleedu/event"
	"github.com/huleedu/huleedu/services/contracts"
	"github.com/huleedu/huleedu/services/contracts/httpjson"
)

// AssociateEssayRequest is the body of PUT /v1/essays/{essay_id}/student.
type AssociateEssayRequest struct {
	BatchID         string `json:"batch_id"`
	StudentID       string `json:"student_id"`
	CreatedByUserID string `json:"created_by_user_id,omitempty"`
}

// handleAssociateEssay names the student who wrote an essay and publishes
// StudentAssociatedV1 (method "manual"). Naming the same student again
// publishes nothing; naming another replaces the association in a new
// revision, whose event id differs from every earlier one (A, then B, then
// A again is three events, none of which a consumer drops as a duplicate).
func (s *Service) handleAssociateEssay(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	correlationID := httpjson.CorrelationID(w, r)
	essayID := r.PathValue("essay_id")
	var req AssociateEssayRequest
	if err := httpjson.Decode(w, r, &req, maxBody); err != nil {
		httpjson.WriteErr(w, err)
		return
	}
	req.BatchID, req.StudentID = strings.TrimSpace(req.BatchID), strings.TrimSpace(req.StudentID)
	for _, f := range []struct{ name, value string }{{"batch_id", req.BatchID}, {"student_id", req.StudentID}} {
		if f.value == "" {
			httpjson.WriteErr(w, httpjson.BadField(f.name, "%s is required", f.name))
			return
		}
	}
	a := EssayAssociation{BatchID: req.BatchID, EssayID: essayID, StudentID: req.StudentID,
		CreatedByUserID: req.CreatedByUserID, CreatedAt: s.now().UTC()}
	err := s.store.Tx(ctx, func(ctx context.Context, tx Tx) error {
		if _, ok, err := tx.Student(req.StudentID); err != nil {
			return err
		} else if !ok {
			return notFound("student", req.StudentID)
		}
		old, ok, err := tx.Association(a.BatchID, a.EssayID)
		if err != nil {
			return err
		}
		if ok && old.StudentID == a.StudentID {
			a = old
			return nil
		}
		a.Revision = old.Revision + 1
		if err := tx.PutAssociation(a); err != nil {
			return err
		}
		return s.pub.Publish(ctx, contracts.Message{EventType: event.TypeStudentAssociatedV1, Key: a.BatchID,
			Identity: []string{a.StudentID, "essay", a.BatchID, a.EssayID, strconv.Itoa(a.Revision)}, CorrelationID: correlationID,
			Data: contracts.StudentAssociatedV1{StudentID: a.StudentID, BatchID: a.BatchID, EssayID: a.EssayID,
				AssociationMethod: contracts.AssociationManual, CreatedByUserID: a.CreatedByUserID}})
	})
	if err != nil {
		s.fail(w, r, err)
		return
	}
	httpjson.Write(w, http.StatusOK, a)
}
