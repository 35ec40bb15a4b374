-- The File Service's essay texts (SQLContentStore), by content id: the id
-- is derived from the batch, the file name and the content's SHA-256, so
-- a row never changes.

-- +goose Up
CREATE TABLE contents (
    content_id text        PRIMARY KEY,
    content    bytea       NOT NULL,
    size       bigint      NOT NULL,
    created_at timestamptz NOT NULL
);

-- +goose Down
DROP TABLE contents;
