package batchorchestrator_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/huleedu/huleedu/servicekit/servicekittest"
	"github.com/huleedu/huleedu/services/batchorchestrator"
	"github.com/huleedu/huleedu/services/contracts"
)

// The BatchRepository conformance suite, run against the memory
// repository and the SQL one on SQLite and PostgreSQL.

func forEachRepository(t *testing.T, test func(t *testing.T, repo batchorchestrator.BatchRepository)) {
	t.Run("memory", func(t *testing.T) { test(t, batchorchestrator.NewMemoryBatchRepository()) })
	for dialect, open := range servicekittest.Databases(t, batchorchestrator.Migrations()) {
		t.Run(string(dialect), func(t *testing.T) { test(t, batchorchestrator.NewSQLBatchRepository(open(t))) })
	}
}

var errBoom = errors.New("fn fails")

func noop(context.Context) error { return nil }

func TestBatchRepositoryCreateKeepsABatchOnlyWhenFnSucceeds(t *testing.T) {
	forEachRepository(t, func(t *testing.T, repo batchorchestrator.BatchRepository) {
		ctx := context.Background()
		b := sampleBatch("b-1")
		if err := repo.Create(ctx, b, func(context.Context) error { return errBoom }); !errors.Is(err, errBoom) {
			t.Fatalf("Create with a failing fn = %v, want fn's error", err)
		}
		if _, err := repo.Get(ctx, "b-1"); !errors.Is(err, batchorchestrator.ErrBatchNotFound) {
			t.Fatalf("Get after a failed Create = %v, want ErrBatchNotFound", err)
		}
		if err := repo.Create(ctx, b, noop); err != nil {
			t.Fatal(err)
		}
		got, err := repo.Get(ctx, "b-1")
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, b) {
			t.Fatalf("stored\n  %+v\nread back\n  %+v", b, got)
		}
		ran := false
		err = repo.Create(ctx, sampleBatch("b-1"), func(context.Context) error { ran = true; return nil })
		if !errors.Is(err, batchorchestrator.ErrBatchExists) || ran {
			t.Fatalf("second Create = %v (fn ran: %v), want ErrBatchExists without running fn", err, ran)
		}
	})
}

func TestBatchRepositoryUpdateStoresOnlyAReportedChange(t *testing.T) {
	forEachRepository(t, func(t *testing.T, repo batchorchestrator.BatchRepository) {
		ctx := context.Background()
		b := sampleBatch("b-1")
		if err := repo.Create(ctx, b, noop); err != nil {
			t.Fatal(err)
		}
		if err := repo.Update(ctx, "b-none", func(context.Context, *batchorchestrator.Batch) (bool, error) { return true, nil }); !errors.Is(err, batchorchestrator.ErrBatchNotFound) {
			t.Errorf("Update of an unknown batch = %v, want ErrBatchNotFound", err)
		}
		for name, fn := range map[string]func(context.Context, *batchorchestrator.Batch) (bool, error){
			"failed": func(_ context.Context, b *batchorchestrator.Batch) (bool, error) {
				b.Status = "x"
				return true, errBoom
			},
			"unchanged": func(_ context.Context, b *batchorchestrator.Batch) (bool, error) { b.Status = "x"; return false, nil },
		} {
			_ = repo.Update(ctx, "b-1", fn)
			if got, _ := repo.Get(ctx, "b-1"); !reflect.DeepEqual(got, b) {
				t.Errorf("%s change stored: status %q", name, got.Status)
			}
		}
		if err := repo.Update(ctx, "b-1", func(_ context.Context, b *batchorchestrator.Batch) (bool, error) {
			b.Status = batchorchestrator.StatusCompletedSuccessfully
			return true, nil
		}); err != nil {
			t.Fatal(err)
		}
		if got, _ := repo.Get(ctx, "b-1"); got.Status != batchorchestrator.StatusCompletedSuccessfully {
			t.Fatalf("status %q after a change, want %q", got.Status, batchorchestrator.StatusCompletedSuccessfully)
		}
	})
}

func TestBatchRepositoryChangesOfOneBatchTakeTurns(t *testing.T) {
	forEachRepository(t, func(t *testing.T, repo batchorchestrator.BatchRepository) {
		ctx := context.Background()
		if err := repo.Create(ctx, sampleBatch("b-1"), noop); err != nil {
			t.Fatal(err)
		}
		const n = 8
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				err := repo.Update(ctx, "b-1", func(_ context.Context, b *batchorchestrator.Batch) (bool, error) {
					b.FailedEssayIDs = append(b.FailedEssayIDs, fmt.Sprintf("e-%d", i))
					return true, nil
				})
				if err != nil {
					t.Error(err)
				}
			})
		}
		wg.Wait()
		if got, _ := repo.Get(ctx, "b-1"); len(got.FailedEssayIDs) != n {
			t.Fatalf("%d ids after %d concurrent changes: a change was lost", len(got.FailedEssayIDs), n)
		}
	})
}

func TestSQLBatchRepositoryJoinsTheCallersTransaction(t *testing.T) {
	for dialect, open := range servicekittest.Databases(t, batchorchestrator.Migrations()) {
		t.Run(string(dialect), func(t *testing.T) {
			db := open(t)
			repo := batchorchestrator.NewSQLBatchRepository(db)
			ctx := context.Background()
			err := db.Transact(ctx, func(ctx context.Context, _ *sql.Tx) error {
				if err := repo.Create(ctx, sampleBatch("b-1"), func(ctx context.Context) error {
					if _, ok := db.Tx(ctx); !ok {
						t.Error("fn's ctx carries no transaction")
					}
					return nil
				}); err != nil {
					return err
				}
				return errBoom
			})
			if !errors.Is(err, errBoom) {
				t.Fatal(err)
			}
			if _, err := repo.Get(ctx, "b-1"); !errors.Is(err, batchorchestrator.ErrBatchNotFound) {
				t.Fatalf("Get = %v, want ErrBatchNotFound: the batch rolled back with the caller's transaction", err)
			}
		})
	}
}

func sampleBatch(id string) batchorchestrator.Batch {
	at := time.Date(2026, 3, 1, 9, 30, 0, 123456000, time.UTC)
	return batchorchestrator.Batch{
		BatchID: id, Status: batchorchestrator.StatusProcessingPipelines, CourseCode: "ENG5", EssayInstructions: "Describe.",
		UserID: "u-1", ClassID: "c-1", RequestedPipeline: "full", Phases: []string{contracts.PhaseSpellcheck, contracts.PhaseCJAssessment},
		ExpectedEssayCount: 2, EssayIDs: []string{"e-0", "e-1"}, CorrelationID: "corr-1", CurrentPhase: contracts.PhaseSpellcheck,
		PhaseResults:   []batchorchestrator.PhaseResult{{Phase: contracts.PhaseSpellcheck, Status: "requested", EssayCount: 2, RequestedAt: at}},
		Essays:         []contracts.EssayProcessingInputRefV1{{EssayID: "e-0", ContentID: "c-0"}, {EssayID: "e-1", ContentID: "c-1", SpellcheckErrorCount: 3}},
		FailedEssayIDs: []string{}, CreatedAt: at, ReadyAt: at.Add(time.Second),
	}
}
