package essaylifecycle_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/huleedu/huleedu/event"
	"github.com/huleedu/huleedu/services/contracts"
	"github.com/huleedu/huleedu/services/contracts/contractstest"
	"github.com/huleedu/huleedu/services/essaylifecycle"
)

type fixture struct {
	t   *testing.T
	bus *contractstest.Bus
	svc *essaylifecycle.Service
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	bus := contractstest.NewBus()
	svc, err := essaylifecycle.New(essaylifecycle.Deps{Bus: bus})
	if err != nil {
		t.Fatal(err)
	}
	return &fixture{t: t, bus: bus, svc: svc}
}

// env wraps data in an envelope of eventType.
func env(t *testing.T, eventType string, data any, identity ...string) *event.Envelope {
	t.Helper()
	id := event.DeterministicID(event.Namespace, append([]string{eventType}, identity...)...)
	e, err := event.NewEnvelope(eventType, "test", data, event.WithEventID(id), event.WithCorrelationID("corr-1"))
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// deliver hands e to the handler of its topic and fails the test on an
// error.
func (f *fixture) deliver(e *event.Envelope) {
	f.t.Helper()
	if err := f.handle(e); err != nil {
		f.t.Fatalf("%s: %v", e.EventType, err)
	}
}

func (f *fixture) handle(e *event.Envelope) error {
	topic := contracts.MustTopic(e.EventType)
	h, ok := f.svc.Handlers()[topic]
	if !ok {
		f.t.Fatalf("no handler for %s", topic)
	}
	return h(context.Background(), e)
}

func registration(t *testing.T, batchID string, n int) *event.Envelope {
	ids := make([]string, n)
	for i := range ids {
		ids[i] = fmt.Sprintf("%s-essay-%d", batchID, i)
	}
	return env(t, event.TypeBatchEssaysRegistered, contracts.BatchEssaysRegistered{BatchID: batchID, ExpectedEssayCount: n,
		EssayIDs: ids, CourseCode: "ENG5", RequestedPipeline: "full"}, batchID)
}

func provisioned(t *testing.T, batchID string, i int) *event.Envelope {
	upload := fmt.Sprintf("upload-%d", i)
	return env(t, event.TypeEssayContentProvisionedV1, contracts.EssayContentProvisionedV1{BatchID: batchID, FileUploadID: upload,
		FileName: fmt.Sprintf("essay%d.txt", i), ContentID: fmt.Sprintf("content-%d", i), Size: 100}, batchID, upload)
}

func validationFailed(t *testing.T, batchID string, i int) *event.Envelope {
	upload := fmt.Sprintf("upload-%d", i)
	return env(t, event.TypeEssayValidationFailedV1, contracts.EssayValidationFailedV1{BatchID: batchID, FileUploadID: upload,
		FileName: fmt.Sprintf("essay%d.txt", i), ValidationErrorCode: contracts.ValidationEmptyContent, Reason: "file is empty"}, batchID, upload)
}

func (f *fixture) ready() []contracts.BatchEssaysReady {
	return contractstest.Payloads[contracts.BatchEssaysReady](f.t, f.bus, event.TypeBatchEssaysReady)
}

func (f *fixture) outcomes() []contracts.ELSBatchPhaseOutcomeV1 {
	return contractstest.Payloads[contracts.ELSBatchPhaseOutcomeV1](f.t, f.bus, contracts.TypeELSBatchPhaseOutcomeV1)
}

func (f *fixture) batch(id string) essaylifecycle.BatchState {
	f.t.Helper()
	st, err := f.svc.Batch(context.Background(), id)
	if err != nil {
		f.t.Fatal(err)
	}
	return st
}

// readyBatch registers batch b with n essays and provisions them all.
func (f *fixture) readyBatch(b string, n int) {
	f.t.Helper()
	f.deliver(registration(f.t, b, n))
	for i := range n {
		f.deliver(provisioned(f.t, b, i))
	}
}
