package classmgmt

import (
	"context"
	"net/http"
	"slices"
	"strings"

	"github.com/huleedu/huleedu/event"
	"github.com/huleedu/huleedu/services/contracts"
	"github.com/huleedu/huleedu/services/contracts/httpjson"
)

// CreateStudentRequest is the body of POST /v1/students.
type CreateStudentRequest struct {
	FirstName       string   `json:"first_name"`
	LastName        string   `json:"last_name"`
	Email           string   `json:"email,omitempty"`
	ClassIDs        []string `json:"class_ids,omitempty"`
	CreatedByUserID string   `json:"created_by_user_id,omitempty"`
}

// EnrolRequest is the body of POST /v1/classes/{id}/students: either the
// id of an existing student, or the fields of a new one.
type EnrolRequest struct {
	StudentID       string `json:"student_id,omitempty"`
	FirstName       string `json:"first_name,omitempty"`
	LastName        string `json:"last_name,omitempty"`
	Email           string `json:"email,omitempty"`
	CreatedByUserID string `json:"created_by_user_id,omitempty"`
}

func (s *Service) handleCreateStudent(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	correlationID := httpjson.CorrelationID(w, r)
	var req CreateStudentRequest
	if err := httpjson.Decode(w, r, &req, maxBody); err != nil {
		httpjson.WriteErr(w, err)
		return
	}
	classIDs, err := cleanIDs("class_ids", req.ClassIDs)
	if err == nil {
		err = validateStudent(&req.FirstName, &req.LastName, &req.Email)
	}
	if err != nil {
		httpjson.WriteErr(w, err)
		return
	}
	st := Student{StudentID: s.newID(), FirstName: req.FirstName, LastName: req.LastName, Email: req.Email,
		ClassIDs: []string{}, CreatedByUserID: req.CreatedByUserID, CreatedAt: s.now().UTC()}
	err = s.store.Tx(ctx, func(ctx context.Context, tx Tx) error {
		for _, id := range classIDs {
			if _, ok, err := tx.Class(id); err != nil {
				return err
			} else if !ok {
				return notFound("class", id)
			}
		}
		if err := s.createStudent(ctx, tx, &st, classIDs, correlationID); err != nil {
			return err
		}
		for _, id := range classIDs {
			if err := s.enrol(ctx, tx, id, &st, req.CreatedByUserID, correlationID); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		s.fail(w, r, err)
		return
	}
	w.Header().Set("Location", "/v1/students/"+st.StudentID)
	httpjson.Write(w, http.StatusCreated, st)
}

func (s *Service) handleGetStudent(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	st, ok, err := s.store.Student(r.Context(), id)
	if err == nil && !ok {
		err = notFound("student", id)
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	httpjson.Write(w, http.StatusOK, st)
}

// handleEnrol serves POST /v1/classes/{id}/students: 201 when a new student
// was created and enrolled, 200 when an existing one was enrolled (or
// already was: then nothing is published).
func (s *Service) handleEnrol(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	correlationID := httpjson.CorrelationID(w, r)
	classID := r.PathValue("id")
	var req EnrolRequest
	if err := httpjson.Decode(w, r, &req, maxBody); err != nil {
		httpjson.WriteErr(w, err)
		return
	}
	req.StudentID = strings.TrimSpace(req.StudentID)
	creating := req.StudentID == ""
	if creating {
		if err := validateStudent(&req.FirstName, &req.LastName, &req.Email); err != nil {
			httpjson.WriteErr(w, err)
			return
		}
	} else if req.FirstName != "" || req.LastName != "" || req.Email != "" {
		httpjson.WriteErr(w, httpjson.BadField("student_id", "give either student_id or the new student's names, not both"))
		return
	}
	var st Student
	err := s.store.Tx(ctx, func(ctx context.Context, tx Tx) error {
		if _, ok, err := tx.Class(classID); err != nil {
			return err
		} else if !ok {
			return notFound("class", classID)
		}
		if creating {
			st = Student{StudentID: s.newID(), FirstName: req.FirstName, LastName: req.LastName, Email: req.Email,
				ClassIDs: []string{}, CreatedByUserID: req.CreatedByUserID, CreatedAt: s.now().UTC()}
			if err := s.createStudent(ctx, tx, &st, []string{classID}, correlationID); err != nil {
				return err
			}
		} else {
			var (
				ok  bool
				err error
			)
			if st, ok, err = tx.Student(req.StudentID); err != nil {
				return err
			} else if !ok {
				return notFound("student", req.StudentID)
			}
		}
		return s.enrol(ctx, tx, classID, &st, req.CreatedByUserID, correlationID)
	})
	if err != nil {
		s.fail(w, r, err)
		return
	}
	status := http.StatusOK
	if creating {
		status = http.StatusCreated
		w.Header().Set("Location", "/v1/students/"+st.StudentID)
	}
	httpjson.Write(w, status, st)
}

func validateStudent(first, last, email *string) error {
	if err := requireText("first_name", first, 100); err != nil {
		return err
	}
	if err := requireText("last_name", last, 100); err != nil {
		return err
	}
	return optionalEmail("email", email)
}

// createStudent stores st and publishes StudentCreatedV1 naming the
// classes it is about to join.
func (s *Service) createStudent(ctx context.Context, tx Tx, st *Student, classIDs []string, correlationID string) error {
	if err := tx.PutStudent(*st); err != nil {
		return err
	}
	return s.pub.Publish(ctx, contracts.Message{EventType: event.TypeStudentCreatedV1, Key: st.StudentID,
		Identity: []string{st.StudentID}, CorrelationID: correlationID,
		Data: contracts.StudentCreatedV1{StudentID: st.StudentID, FirstName: st.FirstName, LastName: st.LastName,
			StudentEmail: st.Email, ClassIDs: append([]string{}, classIDs...), CreatedByUserID: st.CreatedByUserID}})
}

// enrol adds st to the class and publishes StudentAssociatedV1, unless st
// is enrolled already.
func (s *Service) enrol(ctx context.Context, tx Tx, classID string, st *Student, userID, correlationID string) error {
	c, _, err := tx.Class(classID)
	if err != nil {
		return err
	}
	if slices.Contains(c.StudentIDs, st.StudentID) {
		return nil
	}
	c.StudentIDs = append(c.StudentIDs, st.StudentID)
	st.ClassIDs = append(st.ClassIDs, classID)
	if err := tx.PutClass(c); err != nil {
		return err
	}
	if err := tx.PutStudent(*st); err != nil {
		return err
	}
	return s.pub.Publish(ctx, contracts.Message{EventType: event.TypeStudentAssociatedV1, Key: st.StudentID,
		Identity: []string{st.StudentID, "class", classID}, CorrelationID: correlationID,
		Data: contracts.StudentAssociatedV1{StudentID: st.StudentID, ClassID: classID,
			AssociationMethod: contracts.AssociationEnrolment, CreatedByUserID: userID}})
}
