package essaylifecycle_test

import (
	"errors"
	"fmt"
	"slices"
	"testing"

	"github.com/huleedu/huleedu/event"
	"github.com/huleedu/huleedu/services/essaylifecycle"
)

func TestBatchBecomesReadyExactlyOnceInAnyOrderWithRedelivery(t *testing.T) {
	const n = 3
	type step struct {
		kind string // "reg" or "content"
		i    int
	}
	orders := map[string][]step{
		"registration first": {{"reg", 0}, {"content", 0}, {"content", 1}, {"content", 2}},
		"content first":      {{"content", 0}, {"content", 1}, {"content", 2}, {"reg", 0}},
		"interleaved":        {{"content", 2}, {"reg", 0}, {"content", 0}, {"content", 1}},
	}
	for name, order := range orders {
		for _, copies := range []int{1, 2, 3} {
			t.Run(fmt.Sprintf("%s/%d copies", name, copies), func(t *testing.T) {
				f := newFixture(t)
				for _, s := range order {
					e := registration(t, "b-1", n)
					if s.kind == "content" {
						e = provisioned(t, "b-1", s.i)
					}
					for range copies {
						f.deliver(e)
					}
				}
				ready := f.ready()
				if len(ready) != 1 {
					t.Fatalf("%d BatchEssaysReady with %d copies of each event, want 1", len(ready), copies)
				}
				if len(ready[0].Essays) != n || len(ready[0].FailedEssayIDs) != 0 || ready[0].CourseCode != "ENG5" {
					t.Errorf("ready = %+v", ready[0])
				}
				contents := []string{}
				for _, e := range ready[0].Essays {
					contents = append(contents, e.ContentID)
				}
				slices.Sort(contents)
				if !slices.Equal(contents, []string{"content-0", "content-1", "content-2"}) {
					t.Errorf("ready contents %v", contents)
				}
				st := f.batch("b-1")
				for _, e := range st.Essays {
					if e.State != essaylifecycle.StateContentReady {
						t.Errorf("essay %s in %s, want content_ready", e.EssayID, e.State)
					}
				}
				if len(st.PendingUploads) != 0 {
					t.Errorf("pending uploads left: %+v", st.PendingUploads)
				}
			})
		}
	}
}

func TestNoReadyUntilEverySlotIsSettled(t *testing.T) {
	f := newFixture(t)
	f.deliver(registration(t, "b-1", 3))
	f.deliver(provisioned(t, "b-1", 0))
	f.deliver(provisioned(t, "b-1", 1))
	if n := len(f.ready()); n != 0 {
		t.Fatalf("%d BatchEssaysReady with one essay missing", n)
	}
	if st := f.batch("b-1"); st.Essays[2].State != essaylifecycle.StateAwaitingContent {
		t.Errorf("third essay in %s", st.Essays[2].State)
	}
}

func TestValidationFailureFillsSlotAsFailed(t *testing.T) {
	f := newFixture(t)
	f.deliver(validationFailed(t, "b-1", 0)) // before the registration, too
	f.deliver(registration(t, "b-1", 2))
	f.deliver(provisioned(t, "b-1", 1))
	ready := f.ready()
	if len(ready) != 1 || len(ready[0].Essays) != 1 || len(ready[0].FailedEssayIDs) != 1 {
		t.Fatalf("ready = %+v, want one essay and one failed", ready)
	}
	st := f.batch("b-1")
	failed := st.Essays[0]
	if failed.State != essaylifecycle.StateFailed || failed.FailedPhase != essaylifecycle.FailedAtUpload || failed.FailureReason == "" {
		t.Errorf("failed essay = %+v", failed)
	}
	if ready[0].FailedEssayIDs[0] != failed.EssayID {
		t.Errorf("failed id %s, want %s", ready[0].FailedEssayIDs[0], failed.EssayID)
	}
}

func TestAllUploadsFailedStillMakesBatchReady(t *testing.T) {
	f := newFixture(t)
	f.deliver(registration(t, "b-1", 2))
	f.deliver(validationFailed(t, "b-1", 0))
	f.deliver(validationFailed(t, "b-1", 1))
	if r := f.ready(); len(r) != 1 || len(r[0].Essays) != 0 || len(r[0].FailedEssayIDs) != 2 {
		t.Errorf("ready = %+v, want no essays and two failed", r)
	}
}

func TestExcessUploadIsKeptAsideAndNotProcessed(t *testing.T) {
	f := newFixture(t)
	f.readyBatch("b-1", 2)
	f.deliver(provisioned(t, "b-1", 7))
	st := f.batch("b-1")
	if len(st.ExcessUploads) != 1 || st.ExcessUploads[0].FileUploadID != "upload-7" {
		t.Errorf("excess = %+v", st.ExcessUploads)
	}
	if n := len(f.ready()); n != 1 {
		t.Errorf("%d BatchEssaysReady, want 1", n)
	}
}

func TestFailedReadyPublishKeepsStateForRetry(t *testing.T) {
	f := newFixture(t)
	f.deliver(registration(t, "b-1", 1))
	f.bus.FailNext(1, errors.New("kafka down"))
	last := provisioned(t, "b-1", 0)
	if err := f.handle(last); err == nil {
		t.Fatal("handler succeeded although BatchEssaysReady was not accepted")
	}
	if st := f.batch("b-1"); st.Essays[0].State != essaylifecycle.StateAwaitingContent || st.ReadyPublished {
		t.Fatalf("state changed by a failed handler: %+v", st.Essays[0])
	}
	f.deliver(last) // the consumer's retry
	if n := len(f.ready()); n != 1 {
		t.Errorf("%d BatchEssaysReady after the retry, want 1", n)
	}
}

func TestInvalidEventsAreRejected(t *testing.T) {
	tests := map[string]*event.Envelope{
		"registration without batch": env(t, event.TypeBatchEssaysRegistered, map[string]any{"expected_essay_count": 1}, "x"),
		"registration with no essays": env(t, event.TypeBatchEssaysRegistered,
			map[string]any{"batch_id": "b", "expected_essay_count": 0}, "y"),
		"ids not matching count": env(t, event.TypeBatchEssaysRegistered,
			map[string]any{"batch_id": "b", "expected_essay_count": 2, "essay_ids": []string{"a"}}, "z"),
		"content without content id": env(t, event.TypeEssayContentProvisionedV1,
			map[string]any{"batch_id": "b", "file_upload_id": "u"}, "w"),
	}
	for name, e := range tests {
		t.Run(name, func(t *testing.T) {
			f := newFixture(t)
			if err := f.handle(e); !errors.Is(err, event.ErrInvalidEnvelope) {
				t.Errorf("err = %v, want ErrInvalidEnvelope", err)
			}
		})
	}
}

func TestRegistrationWithoutEssayIDsGeneratesSlots(t *testing.T) {
	f := newFixture(t)
	f.deliver(env(t, event.TypeBatchEssaysRegistered, map[string]any{"batch_id": "b-9", "expected_essay_count": 2}, "b-9"))
	if st := f.batch("b-9"); len(st.Essays) != 2 || st.Essays[0].EssayID == "" || st.Essays[0].EssayID == st.Essays[1].EssayID {
		t.Errorf("slots = %+v", st.Essays)
	}
}
