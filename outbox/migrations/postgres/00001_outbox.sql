-- The outbox table, its lease table and the relays' heartbeats; see the
-- package documentation (outbox/doc.go) for what each column means.

-- +goose Up
CREATE TABLE outbox (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    aggregate_type  text        NOT NULL DEFAULT '',
    aggregate_id    text        NOT NULL DEFAULT '',
    event_id        uuid        NOT NULL,
    event_type      text        NOT NULL,
    topic           text        NOT NULL,
    event_key       text        NOT NULL,
    lease_partition smallint    NOT NULL CHECK (lease_partition BETWEEN 0 AND 63),
    envelope        json        NOT NULL,
    headers         json        NOT NULL,
    created_at      timestamptz NOT NULL,
    attempts        integer     NOT NULL DEFAULT 0,
    last_error      text,
    next_attempt_at timestamptz,
    published_at    timestamptz,
    dead_at         timestamptz
);

-- What the relay reads, oldest first: rows neither published nor dead.
CREATE INDEX outbox_pending ON outbox (id) WHERE published_at IS NULL AND dead_at IS NULL;
-- Rows waiting for a retry, which hold back the later rows of their topic
-- and key; few, so the check costs one probe of a small index per row.
CREATE INDEX outbox_retrying ON outbox (lease_partition, topic, event_key, id)
    WHERE published_at IS NULL AND dead_at IS NULL AND next_attempt_at IS NOT NULL;
CREATE INDEX outbox_dead ON outbox (id) WHERE dead_at IS NOT NULL;
CREATE INDEX outbox_published ON outbox (published_at) WHERE published_at IS NOT NULL;

CREATE TABLE outbox_leases (
    lease_partition smallint PRIMARY KEY CHECK (lease_partition BETWEEN 0 AND 63),
    owner           text,
    expires_at      timestamptz NOT NULL DEFAULT '-infinity'
);
INSERT INTO outbox_leases (lease_partition) SELECT generate_series(0, 63);

CREATE TABLE outbox_relays (
    relay_id   text PRIMARY KEY,
    started_at timestamptz NOT NULL,
    expires_at timestamptz NOT NULL
);

-- +goose Down
DROP TABLE outbox_relays;
DROP TABLE outbox_leases;
DROP TABLE outbox;
