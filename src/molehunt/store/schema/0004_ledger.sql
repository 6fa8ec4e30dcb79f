-- Evidence ledger and marked copies (issue 11). Entries are append-only: each is the canonical
-- JSON of what was recorded, its RFC 6962 leaf hash and an Ed25519 signature of (index, leaf
-- hash). Signed checkpoints live outside the database, in <workspace>/ledger/checkpoints.

CREATE TABLE ledger_entries (
    entry_index BIGINT NOT NULL,       -- 0-based position in the log (no key: tampering must be
                                       -- representable so that verify can name it)
    kind        VARCHAR NOT NULL,      -- batch | score_day | marked_copy
    subject     VARCHAR NOT NULL,      -- what the entry is about: batch id, day, mark id
    data        VARCHAR NOT NULL,      -- canonical JSON (sorted keys, no spaces): the leaf's bytes
    leaf_hash   VARCHAR NOT NULL,      -- hex SHA-256(0x00 || data)
    signature   VARCHAR NOT NULL       -- base64 Ed25519 signature of "<index>\n<leaf hash hex>"
);

-- A document registered for marking: its text is kept in <workspace>/marks/<doc_id>.txt.
CREATE TABLE marked_documents (
    doc_id     VARCHAR NOT NULL,       -- first 16 hex digits of the text's SHA-256
    name       VARCHAR NOT NULL,       -- file name as given
    sha256     VARCHAR NOT NULL,       -- of the original file's bytes
    format     VARCHAR NOT NULL,       -- text | markdown
    language   VARCHAR NOT NULL,       -- en | zh
    level      VARCHAR,                -- classification from the registry, when known
    sites      INTEGER NOT NULL,       -- markable places in the text
    created    TIMESTAMP NOT NULL
);

-- One row per issued copy.
CREATE TABLE marked_copies (
    mark_id    VARCHAR NOT NULL,       -- random 16 hex digits; seeds the copy's choices
    doc_id     VARCHAR NOT NULL,
    recipient  VARCHAR NOT NULL,
    issued     TIMESTAMP NOT NULL,
    file_name  VARCHAR NOT NULL,       -- the copy as written
    sha256     VARCHAR NOT NULL        -- of the copy's bytes
);
