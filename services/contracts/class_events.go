package contracts

// ClassCreatedV1 says that a teacher created a class. Published by Class
// Management.
type ClassCreatedV1 struct {
	// ClassID identifies the class.
	ClassID string `json:"class_id"`
	// ClassDesignation is the class's name ("9A").
	ClassDesignation string `json:"class_designation"`
	// CourseCodes are the courses taught to the class.
	CourseCodes []string `json:"course_codes"`
	// UserID is the teacher who created the class.
	UserID string `json:"user_id"`
}

// StudentCreatedV1 says that a student was created. Published by Class
// Management.
type StudentCreatedV1 struct {
	// StudentID identifies the student.
	StudentID string `json:"student_id"`
	// FirstName and LastName are the student's names.
	FirstName string `json:"first_name"`
	LastName  string `json:"last_name"`
	// StudentEmail is the student's address, or empty.
	StudentEmail string `json:"student_email,omitempty"`
	// ClassIDs are the classes the student was enrolled in on creation.
	ClassIDs []string `json:"class_ids"`
	// CreatedByUserID is the user who created the student.
	CreatedByUserID string `json:"created_by_user_id"`
}

// Association methods of StudentAssociatedV1.
const (
	// AssociationEnrolment: a student joined a class.
	AssociationEnrolment = "enrolment"
	// AssociationManual: a teacher named the author of an essay.
	AssociationManual = "manual"
)

// StudentAssociatedV1 says that a student was associated with a class (an
// enrolment) or with an essay (its author). Published by Class Management
// on the original's essay association topic. Exactly one of ClassID and
// EssayID is set.
type StudentAssociatedV1 struct {
	// StudentID is the student.
	StudentID string `json:"student_id"`
	// ClassID is the class the student joined (enrolment).
	ClassID string `json:"class_id,omitempty"`
	// BatchID and EssayID are the essay the student wrote (authorship).
	BatchID string `json:"batch_id,omitempty"`
	EssayID string `json:"essay_id,omitempty"`
	// AssociationMethod is AssociationEnrolment or AssociationManual.
	AssociationMethod string `json:"association_method"`
	// CreatedByUserID is the user who made the association.
	CreatedByUserID string `json:"created_by_user_id"`
}
