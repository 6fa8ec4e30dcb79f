-- molehunt workspace schema, version 1.
-- Events live in immutable Parquet batches under events/; the `events` view over them is
-- (re)created by the Store. Everything else is a DuckDB table.

CREATE TABLE sources (
    source_id      INTEGER PRIMARY KEY,
    path           VARCHAR NOT NULL,      -- absolute path when first ingested
    kind           VARCHAR NOT NULL,      -- 'cert' | 'events'
    channel        VARCHAR NOT NULL,      -- logon, device, file, email, http, ldap, psychometric, decoy, events
    part           VARCHAR NOT NULL,      -- what else tells same-content files apart (LDAP month), or ''
    layout         VARCHAR NOT NULL,      -- r4.2, r5.2, r6.2, jsonl
    prefix_bytes   BIGINT NOT NULL,       -- how many leading bytes prefix_hash covers
    prefix_hash    VARCHAR NOT NULL,      -- blake2b of those bytes: identifies the file's content
    bytes_done     BIGINT NOT NULL,       -- offset (in the decompressed stream) ingested so far
    lines_done     BIGINT NOT NULL,       -- physical lines consumed so far, header included
    rows_read      BIGINT NOT NULL,
    rows_stored    BIGINT NOT NULL,
    rows_rejected  BIGINT NOT NULL,
    first_ingested TIMESTAMP NOT NULL,
    last_ingested  TIMESTAMP NOT NULL
);

CREATE TABLE batches (
    batch_id    INTEGER PRIMARY KEY,
    source_id   INTEGER NOT NULL,
    file_name   VARCHAR NOT NULL,         -- Parquet file under events/, relative to the workspace
    first_line  BIGINT NOT NULL,
    last_line   BIGINT NOT NULL,
    rows_stored BIGINT NOT NULL,
    created     TIMESTAMP NOT NULL
);

CREATE TABLE rejects (
    source_id INTEGER NOT NULL,
    path      VARCHAR NOT NULL,
    line      BIGINT NOT NULL,
    reason    VARCHAR NOT NULL,
    raw       VARCHAR                     -- the line as read (invalid UTF-8 replaced by U+FFFD)
);

-- LDAP snapshots: one row per user per monthly snapshot (month = 'YYYY-MM').
CREATE TABLE people (
    month            VARCHAR NOT NULL,
    user_id          VARCHAR NOT NULL,
    name             VARCHAR,
    email            VARCHAR,
    role             VARCHAR,
    projects         VARCHAR,
    business_unit    VARCHAR,
    functional_unit  VARCHAR,
    department       VARCHAR,
    team             VARCHAR,
    supervisor       VARCHAR,
    source_id        INTEGER NOT NULL,
    source_line      BIGINT NOT NULL
);

CREATE TABLE psychometrics (
    user_id           VARCHAR NOT NULL,
    name              VARCHAR,
    openness          INTEGER,
    conscientiousness INTEGER,
    extraversion      INTEGER,
    agreeableness     INTEGER,
    neuroticism       INTEGER,
    source_id         INTEGER NOT NULL,
    source_line       BIGINT NOT NULL
);

CREATE TABLE decoys (
    file_name   VARCHAR NOT NULL,
    host        VARCHAR,
    source_id   INTEGER NOT NULL,
    source_line BIGINT NOT NULL
);
