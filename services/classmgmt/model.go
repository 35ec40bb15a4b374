package classmgmt

import (
	"slices"
	"time"
)

// Class is a teaching group.
type Class struct {
	ClassID          string    `json:"class_id"`
	ClassDesignation string    `json:"class_designation"`
	CourseCodes      []string  `json:"course_codes"`
	UserID           string    `json:"user_id,omitempty"`
	StudentIDs       []string  `json:"student_ids"`
	CreatedAt        time.Time `json:"created_at"`
}

// Student is a learner, enrolled in zero or more classes.
type Student struct {
	StudentID       string    `json:"student_id"`
	FirstName       string    `json:"first_name"`
	LastName        string    `json:"last_name"`
	Email           string    `json:"email,omitempty"`
	ClassIDs        []string  `json:"class_ids"`
	CreatedByUserID string    `json:"created_by_user_id,omitempty"`
	CreatedAt       time.Time `json:"created_at"`
}

// EssayAssociation names the author of an essay.
type EssayAssociation struct {
	BatchID         string `json:"batch_id"`
	EssayID         string `json:"essay_id"`
	StudentID       string `json:"student_id"`
	CreatedByUserID string `json:"created_by_user_id,omitempty"`
	// Revision counts the essay's associations, 1 for the first: each
	// change of author is a new fact with its own event id, also a return
	// to an earlier author.
	Revision  int       `json:"revision"`
	CreatedAt time.Time `json:"created_at"`
}

func (c Class) clone() Class {
	c.CourseCodes = slices.Clone(c.CourseCodes)
	c.StudentIDs = slices.Clone(c.StudentIDs)
	return c
}

func (s Student) clone() Student {
	s.ClassIDs = slices.Clone(s.ClassIDs)
	return s
}
