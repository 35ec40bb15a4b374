-- The outbox table, its lease table and the relays' heartbeats; see the
-- package documentation (outbox/doc.go) for what each column means. Times
-- are microseconds since 1970-01-01 UTC.

-- +goose Up
CREATE TABLE outbox (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    aggregate_type  TEXT    NOT NULL DEFAULT '',
    aggregate_id    TEXT    NOT NULL DEFAULT '',
    event_id        TEXT    NOT NULL,
    event_type      TEXT    NOT NULL,
    topic           TEXT    NOT NULL,
    event_key       TEXT    NOT NULL,
    lease_partition INTEGER NOT NULL CHECK (lease_partition BETWEEN 0 AND 63),
    envelope        TEXT    NOT NULL,
    headers         TEXT    NOT NULL,
    created_at      INTEGER NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    last_error      TEXT,
    next_attempt_at INTEGER,
    published_at    INTEGER,
    dead_at         INTEGER
);

CREATE INDEX outbox_pending ON outbox (id) WHERE published_at IS NULL AND dead_at IS NULL;
CREATE INDEX outbox_retrying ON outbox (lease_partition, topic, event_key, id)
    WHERE published_at IS NULL AND dead_at IS NULL AND next_attempt_at IS NOT NULL;
CREATE INDEX outbox_dead ON outbox (id) WHERE dead_at IS NOT NULL;
CREATE INDEX outbox_published ON outbox (published_at) WHERE published_at IS NOT NULL;

CREATE TABLE outbox_leases (
    lease_partition INTEGER PRIMARY KEY CHECK (lease_partition BETWEEN 0 AND 63),
    owner           TEXT,
    expires_at      INTEGER NOT NULL DEFAULT 0
);
WITH RECURSIVE p(n) AS (SELECT 0 UNION ALL SELECT n + 1 FROM p WHERE n < 63)
INSERT INTO outbox_leases (lease_partition) SELECT n FROM p;

CREATE TABLE outbox_relays (
    relay_id   TEXT    PRIMARY KEY,
    started_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
);

-- +goose Down
DROP TABLE outbox_relays;
DROP TABLE outbox_leases;
DROP TABLE outbox;
