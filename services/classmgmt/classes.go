package classmgmt

import (
	"context"
	"net/http"

	"github.com/huleedu/huleedu/event"
	"github.com/huleedu/huleedu/services/contracts"
	"github.com/huleedu/huleedu/services/contracts/httpjson"
)

// CreateClassRequest is the body of POST /v1/classes.
type CreateClassRequest struct {
	ClassDesignation string   `json:"class_designation"`
	CourseCodes      []string `json:"course_codes"`
	UserID           string   `json:"user_id,omitempty"`
}

// ClassView is a class with its students, the body of GET /v1/classes/{id}.
type ClassView struct {
	Class
	Students []Student `json:"students"`
}

func (s *Service) handleCreateClass(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	correlationID := httpjson.CorrelationID(w, r)
	var req CreateClassRequest
	if err := httpjson.Decode(w, r, &req, maxBody); err != nil {
		httpjson.WriteErr(w, err)
		return
	}
	if err := requireText("class_designation", &req.ClassDesignation, 100); err != nil {
		httpjson.WriteErr(w, err)
		return
	}
	codes, err := cleanIDs("course_codes", req.CourseCodes)
	if err == nil && len(codes) == 0 {
		err = httpjson.BadField("course_codes", "course_codes needs at least one course code")
	}
	if err != nil {
		httpjson.WriteErr(w, err)
		return
	}
	c := Class{ClassID: s.newID(), ClassDesignation: req.ClassDesignation, CourseCodes: codes, UserID: req.UserID,
		StudentIDs: []string{}, CreatedAt: s.now().UTC()}
	err = s.store.Tx(ctx, func(ctx context.Context, tx Tx) error {
		if err := tx.PutClass(c); err != nil {
			return err
		}
		return s.pub.Publish(ctx, contracts.Message{EventType: event.TypeClassCreatedV1, Key: c.ClassID,
			Identity: []string{c.ClassID}, CorrelationID: correlationID,
			Data: contracts.ClassCreatedV1{ClassID: c.ClassID, ClassDesignation: c.ClassDesignation,
				CourseCodes: c.CourseCodes, UserID: c.UserID}})
	})
	if err != nil {
		s.fail(w, r, err)
		return
	}
	w.Header().Set("Location", "/v1/classes/"+c.ClassID)
	httpjson.Write(w, http.StatusCreated, c)
}

func (s *Service) handleListClasses(w http.ResponseWriter, r *http.Request) {
	classes, err := s.store.Classes(r.Context())
	if err != nil {
		s.fail(w, r, err)
		return
	}
	httpjson.Write(w, http.StatusOK, map[string][]Class{"classes": classes})
}

func (s *Service) handleGetClass(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	c, ok, err := s.store.Class(r.Context(), id)
	if err == nil && !ok {
		err = notFound("class", id)
	}
	var v ClassView
	if err == nil {
		v, err = s.view(r.Context(), c)
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	httpjson.Write(w, http.StatusOK, v)
}

func (s *Service) view(ctx context.Context, c Class) (ClassView, error) {
	v := ClassView{Class: c, Students: make([]Student, 0, len(c.StudentIDs))}
	for _, id := range c.StudentIDs {
		st, ok, err := s.store.Student(ctx, id)
		if err != nil {
			return ClassView{}, err
		}
		if ok {
			v.Students = append(v.Students, st)
		}
	}
	return v, nil
}
