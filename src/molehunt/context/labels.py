"""Classify what each event touched: registry, path rules (globs) and markings, highest wins.

The items of an event are a file event's path, each attachment of an email, the file name
at the end of an upload's URL, and a print job's document name (without an application prefix
such as "Microsoft Word - "). An item's level comes from the document registry (by full path;
failing that, by file name, which is how copies on removable media `R:\\NAME.ext` are found),
from path rules (`glob` rows of the registry), and from markings in its name or (file events)
content. The highest level applies, compartments are united, and an event takes its highest
item. An event none of whose items is known gets level NULL and basis 'unknown'. Everything
is set-based SQL in DuckDB: `item_labels` (one row per known item) and `event_labels` (one row
per file, attachment-carrying email, upload and print event).
"""

from __future__ import annotations

import datetime

from molehunt.context.marking import marking_rank_sql
from molehunt.context.scale import CANONICAL_LEVELS, level_lookup, scales
from molehunt.store import Store

_LEVELS = "['" + "', '".join(CANONICAL_LEVELS) + "']"

# Regex metacharacters escaped, then `*` -> `.*` and `?` -> `.`; case-insensitive, whole item.
_GLOB_REGEX = (
    "'(?i)^' || replace(replace(regexp_replace(doc_key, '([.+^$(){}|\\[\\]\\\\])', "
    "'\\\\\\1', 'g'), '*', '.*'), '?', '.') || '$'"
)

# A spooler's document name often starts with the application ("Microsoft Word - a.docx"); the
# prefix is dropped so the name matches the registry.
_APP_PREFIX = (
    "'^(Microsoft (Office )?(Word|Excel|PowerPoint|Visio|Outlook)|Adobe Acrobat( Reader)?( DC)?"
    "|Acrobat Reader|Notepad|WordPad|LibreOffice( \\w+)?|Preview) - '"
)

_ITEMS = """
recent AS (SELECT * FROM {recent}),
items AS (
    SELECT source_id, source_line, "user", trim(object) AS item, content FROM recent
    WHERE channel = 'file' AND object IS NOT NULL
    UNION ALL
    SELECT source_id, source_line, "user", trim(a.item), NULL FROM recent,
        unnest(string_split(attachment_names, ';')) AS a(item)
    WHERE channel = 'email' AND coalesce(attachment_names, '') <> ''
    UNION ALL
    SELECT source_id, source_line, "user",
        regexp_extract(regexp_replace(object, '[?#].*$', ''), '[^/]+$'), NULL FROM recent
    WHERE channel = 'http' AND action = 'upload'
    UNION ALL
    SELECT source_id, source_line, "user", trim(regexp_replace(object, {app_prefix}, '')), NULL
    FROM recent WHERE channel = 'print' AND object IS NOT NULL
),
named AS (
    SELECT DISTINCT source_id, source_line, item, regexp_extract(item, '[^\\\\/]+$') AS name,
        content
    FROM items WHERE item <> ''
)"""


def _hits_sql(marking_name: str, marking_content: str) -> str:
    """Every (item, level source) match, with a strength that orders bases at equal rank."""
    return f"""
by_path AS (
    SELECT n.source_id, n.source_line, n.item, d.level_rank AS rank, d.compartments,
        'path' AS basis, 4 AS strength, d.content_hash
    FROM named n JOIN documents d ON d.match_kind = 'path' AND lower(d.doc_key) = lower(n.item)
),
by_name AS (
    SELECT n.source_id, n.source_line, n.item, d.level_rank, d.compartments, 'name', 3,
        d.content_hash
    FROM named n JOIN documents d ON d.name = n.name
    WHERE NOT EXISTS (SELECT 1 FROM by_path p WHERE p.source_id = n.source_id
        AND p.source_line = n.source_line AND p.item = n.item)
),
globs AS (SELECT {_GLOB_REGEX} AS pattern, * FROM documents WHERE match_kind = 'glob'),
by_glob AS (
    SELECT n.source_id, n.source_line, n.item, g.level_rank, g.compartments, 'glob', 2,
        g.content_hash
    FROM named n JOIN globs g ON regexp_full_match(n.item, g.pattern)
),
by_marking AS (
    SELECT source_id, source_line, item, rank, []::VARCHAR[], 'marking', 1, NULL
    FROM (SELECT *, greatest({marking_name}, {marking_content}) AS rank FROM named)
    WHERE rank IS NOT NULL
),
hits AS (
    SELECT * FROM by_path UNION ALL SELECT * FROM by_name UNION ALL SELECT * FROM by_glob
    UNION ALL SELECT * FROM by_marking
)"""


def _level_lookup(store: Store) -> dict[str, int]:
    lookup = level_lookup(scales.values())
    for key, rank in store.query("SELECT level_key, level_rank FROM level_names"):
        lookup.setdefault(str(key), int(rank))
    return lookup


def registry_signature(store: Store) -> str:
    """A fingerprint of everything labels depend on besides events (registry, custom levels).

    Args:
        store: The workspace.

    Returns:
        Text that changes whenever the document registry or the custom level names change.
    """
    documents = store.query(
        "SELECT count(*), coalesce(sum(hash(doc_key, match_kind, level_rank, compartments, "
        "name, content_hash)), 0) FROM documents"
    )[0]
    levels = store.query(
        "SELECT count(*), coalesce(sum(hash(scale, level_key, level_rank)), 0) FROM level_names"
    )[0]
    return f"{documents[0]}:{documents[1]}:{levels[0]}:{levels[1]}"


def label_events(
    store: Store, since: datetime.date | None = None, *, count: bool = True
) -> dict[str, int]:
    """(Re)build `item_labels` and `event_labels` from the events and the document registry.

    Args:
        store: The workspace (events and context ingested).
        since: Label only events after this day, keeping earlier labels (incremental runs
            with an unchanged registry); None relabels everything.
        count: Count the labelled events (a pass over the whole table); off, the result is
            empty (detection labels a day and does not need the counts).

    Returns:
        Labelled events per basis (path, name, glob, marking, unknown), for the whole table.
    """
    lookup = _level_lookup(store)
    marking_name = marking_rank_sql("name", lookup)
    marking_content = marking_rank_sql("content", lookup)
    items = _ITEMS.format(
        recent="events" if since is None else "recent_events", app_prefix=_APP_PREFIX
    )
    with_items = f"WITH {items},{_hits_sql(marking_name, marking_content)}"
    stale = ""
    with store.transaction() as connection:
        if since is not None:
            # The events to relabel, kept apart first: DuckDB then knows how few they are and
            # finds their old labels from them, instead of hashing every label ever made.
            connection.execute(
                f"""CREATE OR REPLACE TEMP TABLE recent_events AS
                SELECT source_id, source_line, "user", channel, action, object,
                    attachment_names, content
                FROM events WHERE time >= (DATE '{since.isoformat()}' + 1)::TIMESTAMP"""
            )
            stale = (
                "WHERE (source_id, source_line) IN "
                "(SELECT source_id, source_line FROM recent_events)"
            )
        connection.execute(f"DELETE FROM item_labels {stale}")
        connection.execute(
            f"""INSERT INTO item_labels {with_items}
            SELECT source_id, source_line, item, max(rank) AS level_rank,
                {_LEVELS}[max(rank) + 1] AS level,
                list_sort(list_distinct(flatten(list(compartments)))) AS compartments,
                arg_max(basis, rank * 10 + strength) AS basis,
                arg_max(content_hash, rank * 10 + strength) AS content_hash
            FROM hits GROUP BY source_id, source_line, item"""
        )
        connection.execute(f"DELETE FROM event_labels {stale}")
        connection.execute(
            f"""INSERT INTO event_labels WITH {items},
            targets AS (SELECT DISTINCT source_id, source_line FROM items),
            best AS (
                SELECT source_id, source_line, max(level_rank) AS level_rank,
                    list_sort(list_distinct(flatten(list(compartments)))) AS compartments,
                    arg_max(basis, level_rank) AS basis, arg_max(item, level_rank) AS document,
                    arg_max(content_hash, level_rank) AS content_hash
                FROM item_labels SEMI JOIN targets USING (source_id, source_line)
                GROUP BY source_id, source_line
            )
            SELECT t.source_id, t.source_line, b.level_rank, {_LEVELS}[b.level_rank + 1],
                coalesce(b.compartments, []::VARCHAR[]), coalesce(b.basis, 'unknown'),
                b.document, b.content_hash
            FROM targets t LEFT JOIN best b USING (source_id, source_line)"""
        )
        connection.execute("DROP TABLE IF EXISTS recent_events")
    if not count:
        return {}
    rows = store.query("SELECT basis, count(*) FROM event_labels GROUP BY basis ORDER BY basis")
    return {str(basis): int(count) for basis, count in rows}
