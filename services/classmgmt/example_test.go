package classmgmt_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/huleedu/huleedu/services/classmgmt"
	"github.com/huleedu/huleedu/services/contracts/contractstest"
)

func ExampleService_Routes() {
	bus := contractstest.NewBus() // in production: servicekit's kafkabus.Bus
	svc, err := classmgmt.New(classmgmt.Deps{Bus: bus, NewID: func() string { return "class-1" }})
	if err != nil {
		fmt.Println(err)
		return
	}
	mux := http.NewServeMux()
	svc.Routes(mux)

	req := httptest.NewRequest(http.MethodPost, "/v1/classes",
		strings.NewReader(`{"class_designation":"9A","course_codes":["ENG5"]}`))
	rec := httptest.NewRecorder()
	mux.ServeHTTP(rec, req)
	fmt.Println(rec.Code, rec.Header().Get("Location"), bus.Types())
	// Output: 201 /v1/classes/class-1 [ClassCreatedV1]
}
