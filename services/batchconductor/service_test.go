package batchconductor_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"go.uber.org/goleak"

	"github.com/huleedu/huleedu/services/batchconductor"
	"github.com/huleedu/huleedu/services/contracts/httpjson"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func serve(t *testing.T) *httptest.Server {
	t.Helper()
	mux := http.NewServeMux()
	batchconductor.New(batchconductor.Deps{}).Routes(mux)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

func TestGetPipelineReturnsOrderedPhases(t *testing.T) {
	srv := serve(t)
	resp, err := srv.Client().Get(srv.URL + "/v1/pipelines/full")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body batchconductor.PipelineResponse
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d, %v", resp.StatusCode, err)
	}
	if body.Pipeline != "full" || !slices.Equal(body.Phases, []string{"spellcheck", "cj_assessment"}) {
		t.Errorf("body = %+v", body)
	}
}

func TestGetUnknownPipelineIsNotFound(t *testing.T) {
	srv := serve(t)
	resp, err := srv.Client().Get(srv.URL + "/v1/pipelines/nope")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body httpjson.ErrorBody
	_ = json.NewDecoder(resp.Body).Decode(&body)
	if resp.StatusCode != http.StatusNotFound || !strings.Contains(body.Error.Message, "known pipelines") {
		t.Errorf("status %d body %+v", resp.StatusCode, body)
	}
}

func TestListPipelines(t *testing.T) {
	srv := serve(t)
	resp, err := srv.Client().Get(srv.URL + "/v1/pipelines")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body batchconductor.PipelinesResponse
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		t.Fatal(err)
	}
	if len(body.Pipelines) != 3 || body.Pipelines[0].Pipeline != "cj_assessment" {
		t.Errorf("body = %+v", body)
	}
}
