-- CJ Assessment's verdicts and results (SQLRepository): a judge's verdict
-- per batch and pair (essay_a shown first; winner '' for a tie), and one
-- assessment per batch as JSON.

-- +goose Up
CREATE TABLE judgements (
    batch_id  text        NOT NULL,
    essay_a   text        NOT NULL,
    essay_b   text        NOT NULL,
    winner    text        NOT NULL,
    judged_at timestamptz NOT NULL,
    PRIMARY KEY (batch_id, essay_a, essay_b)
);

CREATE TABLE assessments (
    batch_id     text        PRIMARY KEY,
    status       text        NOT NULL,
    assessment   jsonb       NOT NULL,
    completed_at timestamptz NOT NULL
);

-- +goose Down
DROP TABLE assessments;
DROP TABLE judgements;
