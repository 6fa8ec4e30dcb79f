-- Machine and service accounts (issue 12): kept, but apart. Records of machine accounts
-- (PC-0042$), Windows service accounts (SYSTEM, LOCAL SERVICE, DWM-1, ...) and identity-map
-- entries of kind service or machine are not people: `molehunt ingest logs` counts them as
-- skipped (with their reason) and stores them here, never in `events`, so detection,
-- features, the workbench and exports never score them. The columns are those of an event
-- (the same mapping, cast and checked the same way) plus what kind of account it was and the
-- skip reason. Rows are written in the same transaction as their chunk's events and offset.
CREATE TABLE IF NOT EXISTS account_events (
    event_id         VARCHAR,
    time             TIMESTAMP,
    "user"           VARCHAR,             -- the account, lower-cased (PC-0042$ -> pc-0042$), or
                                          -- the identity map's entry (its `person`)
    host             VARCHAR,
    channel          VARCHAR,
    action           VARCHAR,
    object           VARCHAR,
    size_bytes       BIGINT,
    attachment_count INTEGER,
    attachment_names VARCHAR,
    attachment_bytes BIGINT,
    removable        VARCHAR,
    sender           VARCHAR,
    recipients_to    VARCHAR,
    recipients_cc    VARCHAR,
    recipients_bcc   VARCHAR,
    content          VARCHAR,
    source_id        INTEGER NOT NULL,
    source_line      BIGINT NOT NULL,
    kind             VARCHAR NOT NULL,    -- machine | service
    reason           VARCHAR NOT NULL     -- the skip reason it is counted under
);
