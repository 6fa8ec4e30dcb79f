-- The workbench's own database (workbench.duckdb beside molehunt.duckdb): access tokens, cases,
-- notes, verdicts, suppressions and the audit log. It is a separate file because DuckDB lets one
-- process write a file at a time: the web workbench must record a view or a note while
-- `molehunt detect` holds the main file's lock for minutes (docs/workbench.md, "Concurrency").
-- Rows of case_notes, verdicts, suppressions and audit_log are only ever inserted.

CREATE TABLE tokens (
    token_id    INTEGER PRIMARY KEY,
    name        VARCHAR NOT NULL,
    role        VARCHAR NOT NULL,          -- analyst | investigator | auditor | admin
    token_hash  VARCHAR NOT NULL UNIQUE,   -- sha256 of the token; the token itself is never kept
    created     TIMESTAMP NOT NULL,
    revoked     TIMESTAMP
);

CREATE TABLE cases (
    case_id     INTEGER PRIMARY KEY,
    user_id     VARCHAR NOT NULL,          -- the real id; shown only as a pseudonym
    day         DATE NOT NULL,             -- the finding day the case was opened from
    title       VARCHAR NOT NULL,
    created     TIMESTAMP NOT NULL,
    created_by  VARCHAR NOT NULL           -- token name
);

CREATE TABLE case_notes (
    case_id     INTEGER NOT NULL,
    note_id     INTEGER NOT NULL,
    text        VARCHAR NOT NULL,
    author      VARCHAR NOT NULL,
    created     TIMESTAMP NOT NULL
);

-- The latest verdict of a case is its verdict; earlier ones stay.
CREATE TABLE verdicts (
    case_id     INTEGER NOT NULL,
    verdict     VARCHAR NOT NULL,          -- confirmed | benign | inconclusive
    reason      VARCHAR NOT NULL,
    author      VARCHAR NOT NULL,
    created     TIMESTAMP NOT NULL
);

-- A benign verdict's scoped suppression: this rule, this person, until a day. The queue still
-- shows the person and marks the suppression; scores are never changed.
CREATE TABLE suppressions (
    suppression_id INTEGER PRIMARY KEY,
    case_id     INTEGER NOT NULL,
    user_id     VARCHAR NOT NULL,
    rule_id     VARCHAR NOT NULL,
    until       DATE NOT NULL,
    author      VARCHAR NOT NULL,
    created     TIMESTAMP NOT NULL
);

-- Append-only and hash-chained: row_hash = sha256(previous row_hash + this row's fields).
CREATE TABLE audit_log (
    seq         BIGINT PRIMARY KEY,
    time        TIMESTAMP NOT NULL,
    actor       VARCHAR NOT NULL,          -- token name, or 'cli'
    role        VARCHAR NOT NULL,
    action      VARCHAR NOT NULL,          -- view_person | view_finding | reveal | verdict | ...
    subject     VARCHAR NOT NULL,          -- a pseudonym, case id or token name
    detail      VARCHAR NOT NULL,          -- JSON
    row_hash    VARCHAR NOT NULL
);
