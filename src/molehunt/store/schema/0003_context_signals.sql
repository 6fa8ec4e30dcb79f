-- Context signals (issue: context): what each event touched, per user-day signals, leaver records.
-- event_labels and context_daily are derived (rebuilt by molehunt.context); leaver_records are
-- sealed once written and never rewritten.

-- documents: the file name (given, or the path's last part) and the content hash, when known.
ALTER TABLE documents ADD COLUMN name VARCHAR;
ALTER TABLE documents ADD COLUMN content_hash VARCHAR;
-- hr_events: a last working day announced together with the event (Purview-style files).
ALTER TABLE hr_events ADD COLUMN last_day DATE;

-- Level names of custom scales (scales.yaml) seen at context ingest; built-in scales are in code.
CREATE TABLE level_names (
    scale      VARCHAR NOT NULL,
    level_key  VARCHAR NOT NULL,      -- normalised name (upper case, no control suffix)
    level_rank INTEGER NOT NULL       -- canonical rank 0..3
);

-- One row per classified-or-unclassified item an event touched whose level is known.
CREATE TABLE item_labels (
    source_id    INTEGER NOT NULL,
    source_line  BIGINT NOT NULL,
    item         VARCHAR NOT NULL,    -- path, attachment path, or file name at the end of a URL
    level_rank   INTEGER NOT NULL,
    level        VARCHAR NOT NULL,
    compartments VARCHAR[] NOT NULL,
    basis        VARCHAR NOT NULL,    -- path | name | glob | marking
    content_hash VARCHAR
);

CREATE TABLE event_labels (
    source_id    INTEGER NOT NULL,    -- the event's (source_id, source_line)
    source_line  BIGINT NOT NULL,
    level_rank   INTEGER,             -- 0..3; NULL when unknown
    level        VARCHAR,             -- canonical level name; NULL when unknown
    compartments VARCHAR[] NOT NULL,  -- every compartment of every matched document
    basis        VARCHAR NOT NULL,    -- path | name | glob | marking | unknown
    document     VARCHAR,             -- the highest-level item (path, attachment or URL name)
    content_hash VARCHAR              -- the registry's content hash of that document, if any
);

CREATE TABLE context_daily (
    "user"                  VARCHAR NOT NULL,
    day                     DATE NOT NULL,
    classified_read         INTEGER NOT NULL,
    classified_removable    INTEGER NOT NULL,
    classified_emailed      INTEGER NOT NULL,
    classified_uploaded     INTEGER NOT NULL,
    max_level_rank          INTEGER,
    above_clearance         INTEGER NOT NULL,
    need_to_know_violations INTEGER NOT NULL,
    departing               BOOLEAN NOT NULL,
    notice_today            BOOLEAN NOT NULL,
    lookback_classified_90d INTEGER NOT NULL,
    stressors               INTEGER NOT NULL,
    priority_user           BOOLEAN NOT NULL,
    after_departure         INTEGER NOT NULL,
    undeclared_travel       BOOLEAN NOT NULL
);

CREATE TABLE leaver_records (
    user_id                 VARCHAR NOT NULL,
    last_day                DATE NOT NULL,
    created_from_data_until DATE NOT NULL,
    summary_json            VARCHAR NOT NULL,  -- canonical JSON (sorted keys, no spaces)
    sha256                  VARCHAR NOT NULL   -- SHA-256 of summary_json's UTF-8 bytes
);
