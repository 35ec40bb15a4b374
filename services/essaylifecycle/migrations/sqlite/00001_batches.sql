-- The Essay Lifecycle Service's batches (SQLBatchRepository): one row per
-- batch, its whole BatchState as JSON. Times are microseconds since
-- 1970-01-01 UTC.

-- +goose Up
CREATE TABLE batches (
    batch_id   TEXT    PRIMARY KEY,
    registered INTEGER NOT NULL,
    state      TEXT    NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);

-- +goose Down
DROP TABLE batches;
