package fileservice_test

import (
	"bytes"
	"fmt"
	"mime/multipart"
	"net/http"
	"net/http/httptest"

	"github.com/huleedu/huleedu/services/contracts/contractstest"
	"github.com/huleedu/huleedu/services/fileservice"
)

// An upload of two files, one of them empty: one essay is provisioned, the
// other rejected, and each file is announced.
func ExampleService_Routes() {
	bus := contractstest.NewBus() // in production: servicekit's kafkabus.Bus
	svc, err := fileservice.New(fileservice.Config{}, fileservice.Deps{Bus: bus})
	if err != nil {
		fmt.Println(err)
		return
	}
	mux := http.NewServeMux()
	svc.Routes(mux)

	var body bytes.Buffer
	form := multipart.NewWriter(&body)
	_ = form.WriteField("batch_id", "batch-1")
	w, _ := form.CreateFormFile("files", "essay1.txt")
	_, _ = w.Write([]byte("Trees are tall."))
	_, _ = form.CreateFormFile("files", "essay2.txt") // empty
	_ = form.Close()

	req := httptest.NewRequest(http.MethodPost, "/v1/files/batch", &body)
	req.Header.Set("Content-Type", form.FormDataContentType())
	rec := httptest.NewRecorder()
	mux.ServeHTTP(rec, req)

	fmt.Println(rec.Code)
	for _, t := range bus.Types() {
		fmt.Println(t)
	}
	// Output:
	// 202
	// BatchFileAddedV1
	// EssayContentProvisionedV1
	// BatchFileAddedV1
	// EssayValidationFailedV1
}
