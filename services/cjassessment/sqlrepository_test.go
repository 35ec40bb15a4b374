package cjassessment_test

import (
	"context"
	"database/sql"
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/huleedu/huleedu/servicekit/servicekittest"
	"github.com/huleedu/huleedu/services/cjassessment"
	"github.com/huleedu/huleedu/services/contracts"
	"github.com/huleedu/huleedu/sqldb"
)

// The Repository conformance suite, run against the memory repository
// and the SQL one on SQLite and PostgreSQL.

func forEachRepository(t *testing.T, test func(t *testing.T, repo cjassessment.Repository)) {
	t.Run("memory", func(t *testing.T) { test(t, cjassessment.NewMemoryRepository()) })
	for dialect, open := range servicekittest.Databases(t, cjassessment.Migrations()) {
		t.Run(string(dialect), func(t *testing.T) { test(t, cjassessment.NewSQLRepository(open(t))) })
	}
}

func TestRepositoryKeepsVerdictsPerBatchAndOrderedPair(t *testing.T) {
	forEachRepository(t, func(t *testing.T, repo cjassessment.Repository) {
		ctx := context.Background()
		ab := cjassessment.Pair{A: "e-a", B: "e-b"}
		if _, ok, err := repo.Judgement(ctx, "b-1", ab); ok || err != nil {
			t.Fatalf("Judgement before any = %v, %v; want none", ok, err)
		}
		for _, v := range []struct {
			batch  string
			pair   cjassessment.Pair
			winner string
		}{{"b-1", ab, "e-a"}, {"b-1", cjassessment.Pair{A: "e-b", B: "e-a"}, ""}, {"b-2", ab, "e-b"}} {
			if err := repo.SaveJudgement(ctx, v.batch, v.pair, v.winner); err != nil {
				t.Fatal(err)
			}
		}
		for _, want := range []struct {
			batch  string
			pair   cjassessment.Pair
			winner string
		}{{"b-1", ab, "e-a"}, {"b-1", cjassessment.Pair{A: "e-b", B: "e-a"}, ""}, {"b-2", ab, "e-b"}} {
			if w, ok, err := repo.Judgement(ctx, want.batch, want.pair); !ok || err != nil || w != want.winner {
				t.Errorf("Judgement(%s, %v) = %q, %v, %v; want %q (a tie is empty)", want.batch, want.pair, w, ok, err, want.winner)
			}
		}
	})
}

func TestRepositoryReplacesAnAssessmentAndReadsItBack(t *testing.T) {
	forEachRepository(t, func(t *testing.T, repo cjassessment.Repository) {
		ctx := context.Background()
		if _, err := repo.Assessment(ctx, "b-1"); !errors.Is(err, cjassessment.ErrAssessmentNotFound) {
			t.Fatalf("Assessment before any = %v, want ErrAssessmentNotFound", err)
		}
		a := cjassessment.Assessment{BatchID: "b-1", Status: contracts.StatusCompletedWithFailures,
			Rankings:       []contracts.CJRanking{{EssayID: "e-a", Rank: 1, Score: 0.75}, {EssayID: "e-b", Rank: 2, Score: -0.75}},
			FailedEssayIDs: []string{"e-c"}, Comparisons: []cjassessment.Comparison{{A: "e-a", B: "e-b", Winner: "e-a"}},
			Judge: "local", Iterations: 12, Converged: true, CompletedAt: time.Date(2026, 3, 1, 10, 0, 0, 5000, time.UTC)}
		first := a
		first.Status = contracts.StatusCompletedSuccessfully
		for _, save := range []cjassessment.Assessment{first, a} {
			if err := repo.SaveAssessment(ctx, save); err != nil {
				t.Fatal(err)
			}
		}
		got, err := repo.Assessment(ctx, "b-1")
		if err != nil || !reflect.DeepEqual(got, a) {
			t.Fatalf("Assessment = %+v, %v\nwant %+v (the last one saved)", got, err, a)
		}
	})
}

// The result joins the consumer's transaction, and rolls back with it;
// on PostgreSQL the verdicts, which commit on their own, stay for the
// retry.
func TestSQLRepositoryResultRollsBackWithTheHandlerAndVerdictsStayOnPostgres(t *testing.T) {
	for dialect, open := range servicekittest.Databases(t, cjassessment.Migrations()) {
		t.Run(string(dialect), func(t *testing.T) {
			db := open(t)
			repo := cjassessment.NewSQLRepository(db)
			ctx := context.Background()
			ab := cjassessment.Pair{A: "e-a", B: "e-b"}
			boom := errors.New("publish refused")
			err := db.Transact(ctx, func(ctx context.Context, _ *sql.Tx) error {
				if err := repo.SaveJudgement(ctx, "b-1", ab, "e-a"); err != nil {
					return err
				}
				if err := repo.SaveAssessment(ctx, cjassessment.Assessment{BatchID: "b-1", Status: contracts.StatusCompletedSuccessfully}); err != nil {
					return err
				}
				return boom
			})
			if !errors.Is(err, boom) {
				t.Fatal(err)
			}
			if _, err := repo.Assessment(ctx, "b-1"); !errors.Is(err, cjassessment.ErrAssessmentNotFound) {
				t.Fatalf("Assessment = %v, want ErrAssessmentNotFound: it rolled back with the handler", err)
			}
			_, kept, err := repo.Judgement(ctx, "b-1", ab)
			if err != nil || kept != (dialect == sqldb.Postgres) {
				t.Fatalf("verdict kept after the rollback: %v (%v); want %v on %s", kept, err, dialect == sqldb.Postgres, dialect)
			}
		})
	}
}
