package batchorchestrator_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/huleedu/huleedu/event"
	"github.com/huleedu/huleedu/services/batchconductor"
	"github.com/huleedu/huleedu/services/batchorchestrator"
	"github.com/huleedu/huleedu/services/contracts"
	"github.com/huleedu/huleedu/services/contracts/contractstest"
)

// catalogResolver resolves pipelines in process; in a service the
// resolver is a conductorclient.Client behind a circuit breaker.
type catalogResolver struct{ *batchconductor.Catalog }

func (c catalogResolver) Resolve(_ context.Context, name string) ([]string, error) {
	return c.Catalog.Resolve(name)
}

// A batch registered over HTTP, then driven by the events Essay Lifecycle
// would send.
func ExampleService() {
	bus := contractstest.NewBus()
	svc, err := batchorchestrator.New(batchorchestrator.Config{},
		batchorchestrator.Deps{Bus: bus, Conductor: catalogResolver{batchconductor.DefaultCatalog()}})
	if err != nil {
		fmt.Println(err)
		return
	}
	mux := http.NewServeMux()
	svc.Routes(mux)
	req := httptest.NewRequest(http.MethodPost, "/v1/batches",
		strings.NewReader(`{"batch_id":"b-1","essay_ids":["e-1"],"course_code":"ENG5"}`))
	mux.ServeHTTP(httptest.NewRecorder(), req)

	ctx := context.Background()
	essays := []contracts.EssayProcessingInputRefV1{{EssayID: "e-1", ContentID: "c-1"}}
	deliver := func(eventType string, data any) {
		env, _ := event.NewEnvelope(eventType, "essay_lifecycle_service", data)
		_ = svc.Handlers()[contracts.MustTopic(eventType)](ctx, env)
	}
	deliver(event.TypeBatchEssaysReady, contracts.BatchEssaysReady{BatchID: "b-1", Essays: essays})
	for _, phase := range []string{contracts.PhaseSpellcheck, contracts.PhaseCJAssessment} {
		deliver(contracts.TypeELSBatchPhaseOutcomeV1, contracts.ELSBatchPhaseOutcomeV1{BatchID: "b-1",
			PhaseName: phase, PhaseStatus: contracts.StatusCompletedSuccessfully, ProcessedEssays: essays})
	}
	for _, t := range bus.Types() {
		fmt.Println(t)
	}
	b, _ := svc.Batch(ctx, "b-1")
	fmt.Println(b.Status)
	// Output:
	// BatchEssaysRegistered
	// BatchSpellcheckRequested
	// BatchCJAssessmentRequested
	// BatchPipelineCompletedV1
	// completed_successfully
}
