-- The Batch Orchestrator's batches (SQLBatchRepository): one row per batch,
-- the whole Batch as JSON, its status beside it for operators. Times are
-- microseconds since 1970-01-01 UTC.

-- +goose Up
CREATE TABLE batches (
    batch_id   TEXT    PRIMARY KEY,
    status     TEXT    NOT NULL,
    batch      TEXT    NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE INDEX batches_status ON batches (status);

-- +goose Down
DROP TABLE batches;
