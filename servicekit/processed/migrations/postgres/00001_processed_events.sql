-- The events each consumer group has processed (package
-- servicekit/processed): a row commits in the transaction of the state
-- change its event made, so a redelivered event finds it and changes
-- nothing.

-- +goose Up
CREATE TABLE processed_events (
    consumer     text        NOT NULL,
    event_id     text        NOT NULL,
    processed_at timestamptz NOT NULL,
    PRIMARY KEY (consumer, event_id)
);
-- For pruning marks older than the retention.
CREATE INDEX processed_events_at ON processed_events (processed_at);

-- +goose Down
DROP TABLE processed_events;
