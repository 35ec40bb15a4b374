-- The Essay Lifecycle Service's batches (SQLBatchRepository): one row per
-- batch, its whole BatchState as JSON; changes lock the row.

-- +goose Up
CREATE TABLE batches (
    batch_id   text        PRIMARY KEY,
    registered boolean     NOT NULL,
    state      jsonb       NOT NULL,
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL
);

-- +goose Down
DROP TABLE batches;
