-- The events each consumer group has processed (package
-- servicekit/processed): a row commits in the transaction of the state
-- change its event made, so a redelivered event finds it and changes
-- nothing. processed_at is microseconds since 1970-01-01 UTC.

-- +goose Up
CREATE TABLE processed_events (
    consumer     TEXT    NOT NULL,
    event_id     TEXT    NOT NULL,
    processed_at INTEGER NOT NULL,
    PRIMARY KEY (consumer, event_id)
) WITHOUT ROWID;
CREATE INDEX processed_events_at ON processed_events (processed_at);

-- +goose Down
DROP TABLE processed_events;
