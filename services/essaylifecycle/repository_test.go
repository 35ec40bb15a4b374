package essaylifecycle_test

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
	"github.com/huleedu/huleedu/services/essaylifecycle"
)

// The BatchRepository conformance suite, run against the memory
// repository and the SQL one on SQLite and PostgreSQL.

func forEachRepository(t *testing.T, test func(t *testing.T, repo essaylifecycle.BatchRepository)) {
	t.Run("memory", func(t *testing.T) { test(t, essaylifecycle.NewMemoryBatchRepository()) })
	for dialect, open := range servicekittest.Databases(t, essaylifecycle.Migrations()) {
		t.Run(string(dialect), func(t *testing.T) { test(t, essaylifecycle.NewSQLBatchRepository(open(t))) })
	}
}

var errBoom = errors.New("fn fails")

func TestBatchRepositoryGetAndUpdateOfAnUnknownBatchAreNotFound(t *testing.T) {
	forEachRepository(t, func(t *testing.T, repo essaylifecycle.BatchRepository) {
		ctx := context.Background()
		if _, err := repo.Get(ctx, "b-none"); !errors.Is(err, essaylifecycle.ErrBatchNotFound) {
			t.Errorf("Get = %v, want ErrBatchNotFound", err)
		}
		ran := false
		err := repo.Update(ctx, "b-none", func(context.Context, *essaylifecycle.BatchState) (bool, error) { ran = true; return true, nil })
		if !errors.Is(err, essaylifecycle.ErrBatchNotFound) || ran {
			t.Errorf("Update = %v (fn ran: %v), want ErrBatchNotFound without running fn", err, ran)
		}
	})
}

func TestBatchRepositoryUpsertStoresANewBatchOnlyWhenFnChangesIt(t *testing.T) {
	forEachRepository(t, func(t *testing.T, repo essaylifecycle.BatchRepository) {
		ctx := context.Background()
		err := repo.Upsert(ctx, "b-1", func(_ context.Context, st *essaylifecycle.BatchState) (bool, error) {
			if st.BatchID != "b-1" || st.Registered || len(st.Essays) != 0 {
				t.Errorf("a new batch starts as %+v, want an empty unregistered one with its id", st)
			}
			return false, nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := repo.Get(ctx, "b-1"); !errors.Is(err, essaylifecycle.ErrBatchNotFound) {
			t.Fatalf("Get after an Upsert that changed nothing = %v, want ErrBatchNotFound", err)
		}
		want := sampleBatch("b-1")
		if err := repo.Upsert(ctx, "b-1", func(_ context.Context, st *essaylifecycle.BatchState) (bool, error) {
			*st = want
			return true, nil
		}); err != nil {
			t.Fatal(err)
		}
		got, err := repo.Get(ctx, "b-1")
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("stored\n  %+v\nread back\n  %+v", want, got)
		}
	})
}

func TestBatchRepositoryKeepsNothingOfAFailedOrUnchangedChange(t *testing.T) {
	forEachRepository(t, func(t *testing.T, repo essaylifecycle.BatchRepository) {
		ctx := context.Background()
		want := sampleBatch("b-1")
		if err := repo.Upsert(ctx, "b-1", func(_ context.Context, st *essaylifecycle.BatchState) (bool, error) {
			*st = want
			return true, nil
		}); err != nil {
			t.Fatal(err)
		}
		for name, fn := range map[string]func(context.Context, *essaylifecycle.BatchState) (bool, error){
			"failed": func(_ context.Context, st *essaylifecycle.BatchState) (bool, error) {
				st.Essays[0].State = essaylifecycle.StateFailed
				return true, errBoom
			},
			"unchanged": func(_ context.Context, st *essaylifecycle.BatchState) (bool, error) {
				st.Essays[0].State = essaylifecycle.StateFailed
				return false, nil
			},
		} {
			err := repo.Update(ctx, "b-1", fn)
			if name == "failed" && !errors.Is(err, errBoom) {
				t.Errorf("%s: Update = %v, want fn's error", name, err)
			}
			if got, _ := repo.Get(ctx, "b-1"); !reflect.DeepEqual(got, want) {
				t.Errorf("%s change stored: %+v", name, got.Essays[0])
			}
		}
	})
}

func TestBatchRepositoryChangesOfOneBatchTakeTurns(t *testing.T) {
	forEachRepository(t, func(t *testing.T, repo essaylifecycle.BatchRepository) {
		ctx := context.Background()
		const n = 8
		// Upserts that race to create the batch, then Updates of it: each
		// appends one upload, and none may be lost to a concurrent change.
		for _, change := range []func(context.Context, string, func(context.Context, *essaylifecycle.BatchState) (bool, error)) error{
			repo.Upsert, repo.Update,
		} {
			var wg sync.WaitGroup
			for i := range n {
				wg.Go(func() {
					err := change(ctx, "b-1", func(_ context.Context, st *essaylifecycle.BatchState) (bool, error) {
						st.PendingUploads = append(st.PendingUploads, essaylifecycle.Upload{FileUploadID: fmt.Sprintf("u-%d", i)})
						return true, nil
					})
					if err != nil {
						t.Error(err)
					}
				})
			}
			wg.Wait()
		}
		st, err := repo.Get(ctx, "b-1")
		if err != nil {
			t.Fatal(err)
		}
		if len(st.PendingUploads) != 2*n {
			t.Fatalf("%d uploads after %d concurrent changes, want %d: a change was lost", len(st.PendingUploads), 2*n, 2*n)
		}
	})
}

// The SQL repository's change joins the transaction its ctx carries
// (the consumer's): when that one rolls back, so does the change.
func TestSQLBatchRepositoryJoinsTheCallersTransaction(t *testing.T) {
	for dialect, open := range servicekittest.Databases(t, essaylifecycle.Migrations()) {
		t.Run(string(dialect), func(t *testing.T) {
			db := open(t)
			repo := essaylifecycle.NewSQLBatchRepository(db)
			ctx := context.Background()
			err := db.Transact(ctx, func(ctx context.Context, _ *sql.Tx) error {
				if err := repo.Upsert(ctx, "b-1", func(ctx context.Context, st *essaylifecycle.BatchState) (bool, error) {
					if _, ok := db.Tx(ctx); !ok {
						t.Error("fn's ctx carries no transaction: its publishes could not join the change")
					}
					st.Registered = true
					return true, nil
				}); err != nil {
					return err
				}
				return errBoom // the handler fails after the change
			})
			if !errors.Is(err, errBoom) {
				t.Fatal(err)
			}
			if _, err := repo.Get(ctx, "b-1"); !errors.Is(err, essaylifecycle.ErrBatchNotFound) {
				t.Fatalf("Get = %v, want ErrBatchNotFound: the change rolled back with the caller's transaction", err)
			}
		})
	}
}

// sampleBatch is a batch with one of everything a batch holds.
func sampleBatch(id string) essaylifecycle.BatchState {
	at := time.Date(2026, 3, 1, 9, 30, 0, 123456000, time.UTC)
	return essaylifecycle.BatchState{
		BatchID: id, Registered: true, ExpectedEssayCount: 2, CourseCode: "ENG5", RequestedPipeline: "full", CorrelationID: "corr-1",
		Essays: []essaylifecycle.Essay{
			{EssayID: id + "-e0", State: essaylifecycle.StateSpellchecked, FileUploadID: "u-0", FileName: "a.txt", ContentID: "c-0",
				Spellcheck: &essaylifecycle.SpellcheckResult{ErrorCount: 1, WordCount: 9, Corrections: nil}, UpdatedAt: at},
			{EssayID: id + "-e1", State: essaylifecycle.StateFailed, FailedPhase: essaylifecycle.FailedAtUpload, FailureReason: "EMPTY_CONTENT: file is empty", UpdatedAt: at},
		},
		PendingUploads: []essaylifecycle.Upload{},
		ExcessUploads:  []essaylifecycle.Upload{{FileUploadID: "u-9", FileName: "extra.txt", ContentID: "c-9", ReceivedAt: at}},
		Phases:         []essaylifecycle.PhaseTracking{{Phase: "spellcheck", EssayIDs: []string{id + "-e0"}}},
		CreatedAt:      at, ReadyAt: at.Add(time.Minute),
	}
}
