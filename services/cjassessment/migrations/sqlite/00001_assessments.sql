-- CJ Assessment's verdicts and results (SQLRepository): a judge's verdict
-- per batch and pair (essay_a shown first; winner '' for a tie), and one
-- assessment per batch as JSON. Times are microseconds since 1970-01-01
-- UTC.

-- +goose Up
CREATE TABLE judgements (
    batch_id  TEXT    NOT NULL,
    essay_a   TEXT    NOT NULL,
    essay_b   TEXT    NOT NULL,
    winner    TEXT    NOT NULL,
    judged_at INTEGER NOT NULL,
    PRIMARY KEY (batch_id, essay_a, essay_b)
) WITHOUT ROWID;

CREATE TABLE assessments (
    batch_id     TEXT    PRIMARY KEY,
    status       TEXT    NOT NULL,
    assessment   TEXT    NOT NULL,
    completed_at INTEGER NOT NULL
);

-- +goose Down
DROP TABLE assessments;
DROP TABLE judgements;
