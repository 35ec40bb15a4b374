package classmgmt_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/huleedu/huleedu/event"
	"github.com/huleedu/huleedu/services/classmgmt"
	"github.com/huleedu/huleedu/services/contracts"
	"github.com/huleedu/huleedu/services/contracts/contractstest"
	"github.com/huleedu/huleedu/services/contracts/httpjson"
)

type fixture struct {
	bus *contractstest.Bus
	mux *http.ServeMux
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	bus := contractstest.NewBus()
	n := 0
	svc, err := classmgmt.New(classmgmt.Deps{Bus: bus, NewID: func() string { n++; return fmt.Sprintf("id-%d", n) }})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	svc.Routes(mux)
	return &fixture{bus: bus, mux: mux}
}

func (f *fixture) do(t *testing.T, method, path, body string) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	rec := httptest.NewRecorder()
	f.mux.ServeHTTP(rec, req)
	return rec
}

func decode[T any](t *testing.T, rec *httptest.ResponseRecorder) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(rec.Body.Bytes(), &v); err != nil {
		t.Fatalf("decode %s: %v", rec.Body, err)
	}
	return v
}

func (f *fixture) createClass(t *testing.T) classmgmt.Class {
	t.Helper()
	rec := f.do(t, http.MethodPost, "/v1/classes", `{"class_designation":"9A","course_codes":["ENG5"],"user_id":"teacher-1"}`)
	if rec.Code != http.StatusCreated {
		t.Fatalf("create class: %d %s", rec.Code, rec.Body)
	}
	return decode[classmgmt.Class](t, rec)
}

func TestCreateClassPublishesClassCreated(t *testing.T) {
	f := newFixture(t)
	c := f.createClass(t)
	got := contractstest.Payloads[contracts.ClassCreatedV1](t, f.bus, event.TypeClassCreatedV1)
	want := contracts.ClassCreatedV1{ClassID: c.ClassID, ClassDesignation: "9A", CourseCodes: []string{"ENG5"}, UserID: "teacher-1"}
	if len(got) != 1 || got[0].ClassID != want.ClassID || got[0].ClassDesignation != want.ClassDesignation ||
		!slices.Equal(got[0].CourseCodes, want.CourseCodes) || got[0].UserID != want.UserID {
		t.Errorf("ClassCreatedV1 = %+v, want %+v", got, want)
	}
	env := f.bus.Envelopes(event.TypeClassCreatedV1)[0]
	if env.EventID.String() != contracts.EventID(event.TypeClassCreatedV1, c.ClassID) {
		t.Errorf("event id %s is not deterministic from the class id", env.EventID)
	}
}

func TestCreateStudentInClassPublishesCreatedThenAssociated(t *testing.T) {
	f := newFixture(t)
	c := f.createClass(t)
	rec := f.do(t, http.MethodPost, "/v1/students", fmt.Sprintf(`{"first_name":"Ada","last_name":"Lovelace","email":"ada@example.org","class_ids":[%q]}`, c.ClassID))
	if rec.Code != http.StatusCreated {
		t.Fatalf("status %d %s", rec.Code, rec.Body)
	}
	st := decode[classmgmt.Student](t, rec)
	if want := []string{event.TypeClassCreatedV1, event.TypeStudentCreatedV1, event.TypeStudentAssociatedV1}; !slices.Equal(f.bus.Types(), want) {
		t.Fatalf("published %v, want %v", f.bus.Types(), want)
	}
	created := contractstest.Payloads[contracts.StudentCreatedV1](t, f.bus, event.TypeStudentCreatedV1)[0]
	if created.StudentID != st.StudentID || created.FirstName != "Ada" || created.StudentEmail != "ada@example.org" || !slices.Equal(created.ClassIDs, []string{c.ClassID}) {
		t.Errorf("StudentCreatedV1 = %+v", created)
	}
	assoc := contractstest.Payloads[contracts.StudentAssociatedV1](t, f.bus, event.TypeStudentAssociatedV1)[0]
	if assoc.StudentID != st.StudentID || assoc.ClassID != c.ClassID || assoc.AssociationMethod != contracts.AssociationEnrolment {
		t.Errorf("StudentAssociatedV1 = %+v", assoc)
	}
	view := decode[classmgmt.ClassView](t, f.do(t, http.MethodGet, "/v1/classes/"+c.ClassID, ""))
	if len(view.Students) != 1 || view.Students[0].StudentID != st.StudentID {
		t.Errorf("class view = %+v", view)
	}
}

func TestEnrolExistingStudentPublishesAssociationOnce(t *testing.T) {
	f := newFixture(t)
	c := f.createClass(t)
	st := decode[classmgmt.Student](t, f.do(t, http.MethodPost, "/v1/students", `{"first_name":"Alan","last_name":"Turing"}`))
	body := fmt.Sprintf(`{"student_id":%q}`, st.StudentID)
	for i := range 2 {
		rec := f.do(t, http.MethodPost, "/v1/classes/"+c.ClassID+"/students", body)
		if rec.Code != http.StatusOK {
			t.Fatalf("enrol %d: status %d %s", i, rec.Code, rec.Body)
		}
	}
	if n := f.bus.Count(event.TypeStudentAssociatedV1); n != 1 {
		t.Errorf("%d StudentAssociatedV1 for two enrolments of the same student, want 1", n)
	}
	got := decode[classmgmt.Student](t, f.do(t, http.MethodGet, "/v1/students/"+st.StudentID, ""))
	if !slices.Equal(got.ClassIDs, []string{c.ClassID}) {
		t.Errorf("student classes = %v", got.ClassIDs)
	}
}

func TestEnrolNewStudentCreatesAndAssociates(t *testing.T) {
	f := newFixture(t)
	c := f.createClass(t)
	rec := f.do(t, http.MethodPost, "/v1/classes/"+c.ClassID+"/students", `{"first_name":"Grace","last_name":"Hopper"}`)
	if rec.Code != http.StatusCreated {
		t.Fatalf("status %d %s", rec.Code, rec.Body)
	}
	if f.bus.Count(event.TypeStudentCreatedV1) != 1 || f.bus.Count(event.TypeStudentAssociatedV1) != 1 {
		t.Errorf("published %v", f.bus.Types())
	}
}

func TestAssociateEssayPublishesManualAssociation(t *testing.T) {
	f := newFixture(t)
	st := decode[classmgmt.Student](t, f.do(t, http.MethodPost, "/v1/students", `{"first_name":"Ada","last_name":"Lovelace"}`))
	body := fmt.Sprintf(`{"batch_id":"b-1","student_id":%q}`, st.StudentID)
	for range 2 {
		if rec := f.do(t, http.MethodPut, "/v1/essays/e-1/student", body); rec.Code != http.StatusOK {
			t.Fatalf("status %d %s", rec.Code, rec.Body)
		}
	}
	got := contractstest.Payloads[contracts.StudentAssociatedV1](t, f.bus, event.TypeStudentAssociatedV1)
	if len(got) != 1 || got[0].EssayID != "e-1" || got[0].BatchID != "b-1" || got[0].AssociationMethod != contracts.AssociationManual {
		t.Errorf("StudentAssociatedV1 = %+v, want one manual essay association", got)
	}
}

func TestReassociatingAnEssayBackPublishesANewEvent(t *testing.T) {
	f := newFixture(t)
	var students []string
	for _, name := range []string{"Ada", "Grace"} {
		students = append(students, decode[classmgmt.Student](t, f.do(t, http.MethodPost, "/v1/students",
			fmt.Sprintf(`{"first_name":%q,"last_name":"L"}`, name))).StudentID)
	}
	// Ada, then Grace, then Ada again: three changes of author.
	var revisions []int
	for _, id := range []string{students[0], students[1], students[0]} {
		rec := f.do(t, http.MethodPut, "/v1/essays/e-1/student", fmt.Sprintf(`{"batch_id":"b-1","student_id":%q}`, id))
		if rec.Code != http.StatusOK {
			t.Fatalf("status %d %s", rec.Code, rec.Body)
		}
		revisions = append(revisions, decode[classmgmt.EssayAssociation](t, rec).Revision)
	}
	if !slices.Equal(revisions, []int{1, 2, 3}) {
		t.Errorf("revisions %v, want 1, 2, 3", revisions)
	}
	ids := map[string]bool{}
	for _, env := range f.bus.Envelopes(event.TypeStudentAssociatedV1) {
		ids[env.EventID.String()] = true
	}
	if len(ids) != 3 {
		t.Errorf("%d distinct event ids for three changes of author, want 3: consumers would drop the return to Ada as a duplicate", len(ids))
	}
}

func TestValidationErrorsAre400WithField(t *testing.T) {
	f := newFixture(t)
	c := f.createClass(t)
	tests := []struct {
		name, method, path, body string
		status                   int
		field                    string
	}{
		{"class without designation", http.MethodPost, "/v1/classes", `{"course_codes":["ENG5"]}`, 400, "class_designation"},
		{"class without courses", http.MethodPost, "/v1/classes", `{"class_designation":"9A","course_codes":[]}`, 400, "course_codes"},
		{"duplicate course", http.MethodPost, "/v1/classes", `{"class_designation":"9A","course_codes":["A","A"]}`, 400, "course_codes"},
		{"unknown field", http.MethodPost, "/v1/classes", `{"name":"9A"}`, 400, "name"},
		{"wrong type", http.MethodPost, "/v1/classes", `{"class_designation":9}`, 400, "class_designation"},
		{"student without last name", http.MethodPost, "/v1/students", `{"first_name":"Ada"}`, 400, "last_name"},
		{"bad email", http.MethodPost, "/v1/students", `{"first_name":"Ada","last_name":"L","email":"nope"}`, 400, "email"},
		{"unknown class for student", http.MethodPost, "/v1/students", `{"first_name":"Ada","last_name":"L","class_ids":["zz"]}`, 404, "class_id"},
		{"enrol into unknown class", http.MethodPost, "/v1/classes/zz/students", `{"student_id":"x"}`, 404, "class_id"},
		{"enrol unknown student", http.MethodPost, "/v1/classes/" + c.ClassID + "/students", `{"student_id":"x"}`, 404, "student_id"},
		{"enrol with id and names", http.MethodPost, "/v1/classes/" + c.ClassID + "/students", `{"student_id":"x","first_name":"A"}`, 400, "student_id"},
		{"essay association without batch", http.MethodPut, "/v1/essays/e-1/student", `{"student_id":"x"}`, 400, "batch_id"},
		{"essay association of unknown student", http.MethodPut, "/v1/essays/e-1/student", `{"batch_id":"b","student_id":"x"}`, 404, "student_id"},
		{"unknown class", http.MethodGet, "/v1/classes/zz", ``, 404, "class_id"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := len(f.bus.All())
			rec := f.do(t, tt.method, tt.path, tt.body)
			if rec.Code != tt.status {
				t.Fatalf("status %d, want %d: %s", rec.Code, tt.status, rec.Body)
			}
			if e := decode[httpjson.ErrorBody](t, rec).Error; e.Field != tt.field || e.Message == "" {
				t.Errorf("error %+v, want field %q", e, tt.field)
			}
			if len(f.bus.All()) != before {
				t.Error("a rejected request published an event")
			}
		})
	}
}

func TestChangeIsNotKeptWhenEventIsNotAccepted(t *testing.T) {
	f := newFixture(t)
	f.bus.FailNext(1, errors.New("kafka down"))
	rec := f.do(t, http.MethodPost, "/v1/classes", `{"class_designation":"9A","course_codes":["ENG5"]}`)
	if rec.Code != http.StatusServiceUnavailable || rec.Header().Get("Retry-After") == "" {
		t.Fatalf("status %d, want 503 with Retry-After", rec.Code)
	}
	list := decode[map[string][]classmgmt.Class](t, f.do(t, http.MethodGet, "/v1/classes", ""))
	if len(list["classes"]) != 0 {
		t.Errorf("class kept although its event was not accepted: %+v", list)
	}
}
