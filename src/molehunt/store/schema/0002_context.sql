-- Context: what is classified, who may see it, HR events and travel (issue: context).
-- Users are CERT user ids (context files naming people by e-mail are mapped through `people`).
-- Levels are canonical: 0 UNCLASSIFIED, 1 CONFIDENTIAL, 2 SECRET, 3 TOP SECRET.

CREATE TABLE documents (
    doc_key      VARCHAR NOT NULL,    -- a path, a file name, a glob, or a content hash
    match_kind   VARCHAR NOT NULL,    -- 'path' | 'name' | 'glob' | 'hash'
    level        VARCHAR NOT NULL,    -- canonical level name
    level_rank   INTEGER NOT NULL,    -- 0..3
    compartments VARCHAR[] NOT NULL,  -- projects / compartments, may be empty
    owner        VARCHAR,
    source_id    INTEGER NOT NULL,
    source_line  BIGINT NOT NULL
);

CREATE TABLE clearances (
    user_id      VARCHAR NOT NULL,
    level        VARCHAR NOT NULL,
    level_rank   INTEGER NOT NULL,
    compartments VARCHAR[] NOT NULL,
    priority     BOOLEAN NOT NULL,
    source_id    INTEGER NOT NULL,
    source_line  BIGINT NOT NULL
);

CREATE TABLE hr_events (
    user_id     VARCHAR NOT NULL,
    kind        VARCHAR NOT NULL,     -- resignation_notice, last_working_day, termination, grievance,
                                      -- performance_plan, disciplinary_action, financial_stress
    day         DATE NOT NULL,        -- known from this day on
    detail      VARCHAR,
    source_id   INTEGER NOT NULL,
    source_line BIGINT NOT NULL
);

CREATE TABLE travel (
    user_id     VARCHAR NOT NULL,
    depart      DATE NOT NULL,
    return_day  DATE,
    countries   VARCHAR[] NOT NULL,
    declared    BOOLEAN NOT NULL,
    source_id   INTEGER NOT NULL,
    source_line BIGINT NOT NULL
);
