"""What a workspace holds (`molehunt status`), as plain data for the CLI and the API."""

from __future__ import annotations

from typing import Any

from molehunt.store import Store


def workspace_status(store: Store) -> dict[str, Any]:
    """Summarise the workspace: sources, rows per channel, date range, users, rejects.

    `identities.unmapped` lists the users of native-log events that are no person of the
    identity map or of an LDAP snapshot, with their event counts (most events first).
    `accounts` lists the machine and service accounts whose records native-log ingest kept
    apart (`account_events`, never scored): user, kind and events, most events first; each
    source says how many of its skipped records were kept apart (`kept_apart`).

    Args:
        store: The workspace.

    Returns:
        A JSON-ready dict.
    """
    sources = store.query_dicts(
        "SELECT source_id, path, kind, channel, part, layout, rows_read, rows_stored, "
        "rows_rejected, rows_read - rows_stored - rows_rejected AS rows_skipped, "
        "coalesce(a.kept, 0) AS kept_apart, "
        "strftime(last_ingested, '%Y-%m-%dT%H:%M:%SZ') AS last_ingested "
        "FROM sources LEFT JOIN (SELECT source_id, count(*) AS kept FROM account_events "
        "GROUP BY source_id) a USING (source_id) ORDER BY source_id"
    )
    channels = store.query_dicts(
        "SELECT channel, count(*) AS events, strftime(min(time), '%Y-%m-%dT%H:%M:%S') AS first, "
        "strftime(max(time), '%Y-%m-%dT%H:%M:%S') AS last, count(DISTINCT \"user\") AS users "
        "FROM events GROUP BY channel ORDER BY channel"
    )
    totals = store.query(
        "SELECT count(*), count(DISTINCT \"user\"), strftime(min(time), '%Y-%m-%dT%H:%M:%S'), "
        "strftime(max(time), '%Y-%m-%dT%H:%M:%S') FROM events"
    )[0]
    # Group reasons by their wording, with quoted values and numbers taken out.
    rejects = store.query_dicts(
        "SELECT regexp_replace(reason, '''[^'']*''', '''…''', 'g') AS reason, "
        "count(*) AS rows FROM rejects GROUP BY 1 ORDER BY 2 DESC, 1"
    )
    people = store.query(
        "SELECT count(DISTINCT user_id), count(DISTINCT month), min(month), max(month) FROM people"
    )[0]
    # Native-log users that neither the identity map nor an LDAP snapshot knows as a person.
    unmapped = store.query_dicts(
        'SELECT e."user" AS identity, count(*) AS events, '
        "strftime(min(e.time), '%Y-%m-%dT%H:%M:%S') AS first, "
        "strftime(max(e.time), '%Y-%m-%dT%H:%M:%S') AS last FROM events e "
        "WHERE e.source_id IN (SELECT source_id FROM sources WHERE kind = 'logs') "
        "AND e.\"user\" NOT IN (SELECT person FROM identities WHERE kind = 'person') "
        'AND lower(e."user") NOT IN (SELECT lower(user_id) FROM people) '
        "GROUP BY 1 ORDER BY 2 DESC, 1"
    )
    # Machine and service accounts: kept apart from people (`account_events`), never scored.
    accounts = store.query_dicts(
        'SELECT "user", kind, count(*) AS events, '
        "strftime(min(time), '%Y-%m-%dT%H:%M:%S') AS first, "
        "strftime(max(time), '%Y-%m-%dT%H:%M:%S') AS last "
        'FROM account_events GROUP BY "user", kind ORDER BY events DESC, "user", kind'
    )
    return {
        "workspace": str(store.root),
        "events": totals[0],
        "users": totals[1],
        "first": totals[2],
        "last": totals[3],
        "channels": channels,
        "people": {
            "users": people[0],
            "snapshots": people[1],
            "first_month": people[2],
            "last_month": people[3],
        },
        "psychometrics": store.query("SELECT count(*) FROM psychometrics")[0][0],
        "decoys": store.query("SELECT count(*) FROM decoys")[0][0],
        "context": {
            table: store.query(f"SELECT count(*) FROM {table}")[0][0]
            for table in ("documents", "clearances", "hr_events", "travel")
        },
        "rejects": {"total": sum(r["rows"] for r in rejects), "by_reason": rejects},
        "identities": {
            "mapped": store.query("SELECT count(*) FROM identities")[0][0],
            "unmapped": unmapped,
        },
        "accounts": accounts,
        "sources": sources,
    }
