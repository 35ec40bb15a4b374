-- Class Management's classes, students and essay authorship (SQLStore):
-- each row holds its value as JSON, keyed as the Store looks it up.

-- +goose Up
CREATE TABLE classes (
    class_id   text        PRIMARY KEY,
    created_at timestamptz NOT NULL,
    class      jsonb       NOT NULL
);
CREATE INDEX classes_created ON classes (created_at, class_id);

CREATE TABLE students (
    student_id text  PRIMARY KEY,
    student    jsonb NOT NULL
);

CREATE TABLE essay_associations (
    batch_id    text  NOT NULL,
    essay_id    text  NOT NULL,
    association jsonb NOT NULL,
    PRIMARY KEY (batch_id, essay_id)
);

-- +goose Down
DROP TABLE essay_associations;
DROP TABLE students;
DROP TABLE classes;
