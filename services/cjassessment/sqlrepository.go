package cjassessment

import (
	"context"
	"database/sql"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"time"

	"github.com/huleedu/huleedu/sqldb"
)

//go:embed migrations
var migrationFiles embed.FS

// Migrations returns the service's schema migrations (judgements and
// assessments) for sqldb.Open, versioned in cj_assessment_schema_version.
func Migrations() sqldb.Migrations {
	pg, _ := fs.Sub(migrationFiles, "migrations/postgres")
	lite, _ := fs.Sub(migrationFiles, "migrations/sqlite")
	return sqldb.Migrations{Name: "cj_assessment", Postgres: pg, SQLite: lite}
}

// SQLRepository is the Repository of the service's database (PostgreSQL
// or SQLite).
//
// SaveAssessment writes in the transaction its ctx carries (the
// consumer's: the result, its event in the outbox and the event's
// processed mark commit together). SaveJudgement is a cache of verdicts
// that a retry must not pay for again: on PostgreSQL it commits at once,
// on a connection of its own, so the verdicts of a handler that fails
// later are kept; on SQLite, whose one connection the consumer's
// transaction holds, it writes in that transaction, and a handler that
// fails takes its verdicts with it (the next attempt asks the judge
// again, with the same result for a deterministic judge). It is safe for
// concurrent use.
type SQLRepository struct {
	db  *sqldb.DB
	now func() time.Time
}

var _ Repository = (*SQLRepository)(nil)

// NewSQLRepository returns the repository of db, whose migrations
// (Migrations) have run.
func NewSQLRepository(db *sqldb.DB) *SQLRepository {
	return &SQLRepository{db: db, now: time.Now}
}

// Judgement implements Repository.
func (r *SQLRepository) Judgement(ctx context.Context, batchID string, pair Pair) (string, bool, error) {
	var winner string
	err := r.db.Conn(ctx).QueryRowContext(ctx, `SELECT winner FROM judgements WHERE batch_id = $1 AND essay_a = $2 AND essay_b = $3`,
		batchID, pair.A, pair.B).Scan(&winner)
	if errors.Is(err, sql.ErrNoRows) {
		return "", false, nil
	}
	if err != nil {
		return "", false, fmt.Errorf("cjassessment: read verdict %s vs %s of batch %s: %w", pair.A, pair.B, batchID, err)
	}
	return winner, true, nil
}

// SaveJudgement implements Repository; see SQLRepository for which
// transaction it writes in.
func (r *SQLRepository) SaveJudgement(ctx context.Context, batchID string, pair Pair, winner string) error {
	q := r.db.Conn(ctx)
	if r.db.Dialect() == sqldb.Postgres {
		q = r.db.SQL()
	}
	_, err := q.ExecContext(ctx, `INSERT INTO judgements (batch_id, essay_a, essay_b, winner, judged_at) VALUES ($1, $2, $3, $4, $5)
		ON CONFLICT (batch_id, essay_a, essay_b) DO UPDATE SET winner = excluded.winner, judged_at = excluded.judged_at`,
		batchID, pair.A, pair.B, winner, r.db.TimeArg(r.now()))
	if err != nil {
		return fmt.Errorf("cjassessment: save verdict %s vs %s of batch %s: %w", pair.A, pair.B, batchID, err)
	}
	return nil
}

// SaveAssessment implements Repository, in the transaction ctx carries or
// one of its own.
func (r *SQLRepository) SaveAssessment(ctx context.Context, a Assessment) error {
	raw, err := json.Marshal(a)
	if err != nil {
		return fmt.Errorf("cjassessment: encode the assessment of batch %s: %w", a.BatchID, err)
	}
	return r.db.Transact(ctx, func(ctx context.Context, tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO assessments (batch_id, status, assessment, completed_at) VALUES ($1, $2, $3, $4)
			ON CONFLICT (batch_id) DO UPDATE SET status = excluded.status, assessment = excluded.assessment, completed_at = excluded.completed_at`,
			a.BatchID, a.Status, string(raw), r.db.TimeArg(a.CompletedAt))
		if err != nil {
			return fmt.Errorf("cjassessment: save the assessment of batch %s: %w", a.BatchID, err)
		}
		return nil
	})
}

// Assessment implements Repository.
func (r *SQLRepository) Assessment(ctx context.Context, batchID string) (Assessment, error) {
	var raw []byte
	err := r.db.Conn(ctx).QueryRowContext(ctx, `SELECT assessment FROM assessments WHERE batch_id = $1`, batchID).Scan(&raw)
	if errors.Is(err, sql.ErrNoRows) {
		return Assessment{}, fmt.Errorf("%w: %s", ErrAssessmentNotFound, batchID)
	}
	if err != nil {
		return Assessment{}, fmt.Errorf("cjassessment: read the assessment of batch %s: %w", batchID, err)
	}
	var a Assessment
	if err := json.Unmarshal(raw, &a); err != nil {
		return Assessment{}, fmt.Errorf("cjassessment: the stored assessment of batch %s does not decode: %w", batchID, err)
	}
	return a, nil
}
