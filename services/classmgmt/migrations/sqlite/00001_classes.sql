-- Class Management's classes, students and essay authorship (SQLStore):
-- each row holds its value as JSON, keyed as the Store looks it up.
-- created_at is microseconds since 1970-01-01 UTC.

-- +goose Up
CREATE TABLE classes (
    class_id   TEXT    PRIMARY KEY,
    created_at INTEGER NOT NULL,
    class      TEXT    NOT NULL
);
CREATE INDEX classes_created ON classes (created_at, class_id);

CREATE TABLE students (
    student_id TEXT PRIMARY KEY,
    student    TEXT NOT NULL
);

CREATE TABLE essay_associations (
    batch_id    TEXT NOT NULL,
    essay_id    TEXT NOT NULL,
    association TEXT NOT NULL,
    PRIMARY KEY (batch_id, essay_id)
);

-- +goose Down
DROP TABLE essay_associations;
DROP TABLE students;
DROP TABLE classes;
