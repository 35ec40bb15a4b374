-- The File Service's essay texts (SQLContentStore), by content id: the id
-- is derived from the batch, the file name and the content's SHA-256, so
-- a row never changes. created_at is microseconds since 1970-01-01 UTC.

-- +goose Up
CREATE TABLE contents (
    content_id TEXT    PRIMARY KEY,
    content    BLOB    NOT NULL,
    size       INTEGER NOT NULL,
    created_at INTEGER NOT NULL
);

-- +goose Down
DROP TABLE contents;
