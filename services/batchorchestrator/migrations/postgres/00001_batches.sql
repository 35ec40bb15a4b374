-- The Batch Orchestrator's batches (SQLBatchRepository): one row per batch,
-- the whole Batch as JSON, its status beside it for operators; changes
-- lock the row.

-- +goose Up
CREATE TABLE batches (
    batch_id   text        PRIMARY KEY,
    status     text        NOT NULL,
    batch      jsonb       NOT NULL,
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL
);
CREATE INDEX batches_status ON batches (status);

-- +goose Down
DROP TABLE batches;
