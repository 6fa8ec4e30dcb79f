"""Reference tables and the enriched-event query the daily features aggregate.

Every reference table is causal: what it says about day d depends only on data dated before d
(owner PCs from earlier weeks, LDAP snapshots of months that ended before d) or on day d itself.
"""

from __future__ import annotations

from datetime import date, timedelta

from molehunt.features.catalog import load_domains, personal_email_domains
from molehunt.store.database import Transaction

MIN_OWNER_LOGON_DAYS = 3


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def refresh_reference_tables(connection: Transaction, since: date | None, until: date) -> None:
    """(Re)create the domain, organisation and PC-ownership tables the features need.

    Args:
        connection: An open transaction.
        since: Last day already computed (None: nothing yet).
        until: Last day to compute.
    """
    rows = ", ".join(f"({_literal(d)}, {_literal(c)})" for d, c in sorted(load_domains().items()))
    connection.execute(
        "CREATE OR REPLACE TABLE domain_categories (domain VARCHAR PRIMARY KEY, category VARCHAR)"
    )
    connection.execute(f"INSERT INTO domain_categories VALUES {rows}")
    tables = {row[0] for row in connection.execute("SELECT table_name FROM duckdb_tables()")}
    _org_month(connection, tables)
    _pc_ownership(connection, since, tables)
    connection.execute(
        "CREATE TABLE IF NOT EXISTS user_host_first "
        "(user VARCHAR, host VARCHAR, first_day DATE, PRIMARY KEY (user, host))"
    )
    low = "DATE '1900-01-01'" if since is None else f"DATE '{since.isoformat()}'"
    connection.execute(
        f"""INSERT INTO user_host_first
        SELECT user, host, min(CAST(time AS DATE)) FROM events
        WHERE host IS NOT NULL AND channel <> 'print' AND time >= ({low} + 1)::TIMESTAMP
          AND time < (DATE '{until.isoformat()}' + 1)::TIMESTAMP
        GROUP BY ALL ON CONFLICT DO NOTHING"""
    )


def _org_month(connection: Transaction, tables: set[str]) -> None:
    """Org context per (month, user): the newest LDAP snapshot of a month before it.

    Rebuilt only when the snapshots changed (a digest of the `people` columns it reads is kept
    in `org_month_source`): a nightly run does not redo it for nothing.
    """
    # (Spark runs this too: a hash of the columns read, kept as text.)
    rows, digest = connection.execute(
        "SELECT count(*), CAST(coalesce(bit_xor(hash(month, user_id, name, email, role, "
        "functional_unit, department, supervisor)), 0) AS VARCHAR) FROM people"
    )[0]
    if {"org_month", "org_month_source"} <= tables and connection.execute(
        "SELECT rows, digest FROM org_month_source"
    ) == [(rows, digest)]:
        return
    connection.execute(
        "CREATE OR REPLACE TABLE org_month_source AS "
        f"SELECT CAST({rows} AS BIGINT) AS rows, '{digest}' AS digest"
    )
    connection.execute(
        """CREATE OR REPLACE TABLE org_month AS
        WITH snapshots AS (SELECT DISTINCT month FROM people),
        months AS (
            SELECT strftime(m, '%Y-%m') AS month FROM (
                SELECT unnest(generate_series(
                    CAST(strptime(min(month), '%Y-%m') AS DATE) + INTERVAL 1 MONTH,
                    CAST(strptime(max(month), '%Y-%m') AS DATE) + INTERVAL 60 MONTH,
                    INTERVAL 1 MONTH)) AS m FROM snapshots)),
        chosen AS (
            SELECT months.month, max(snapshots.month) AS snapshot
            FROM months JOIN snapshots ON snapshots.month < months.month GROUP BY ALL)
        SELECT chosen.month, p.user_id,
            coalesce(p.functional_unit || '/' || p.department, p.role, 'unknown') AS peer_group,
            p.role, boss.user_id AS supervisor_id,
            lower(split_part(p.email, '@', 2)) AS email_domain,
            lower(split_part(p.name, ' ', 1)) AS first_name,
            lower(list_last(string_split(p.name, ' '))) AS last_name
        FROM chosen JOIN people p ON p.month = chosen.snapshot
        LEFT JOIN people boss ON boss.month = p.month AND boss.name = p.supervisor
            AND boss.user_id <> p.user_id
        QUALIFY row_number() OVER (PARTITION BY chosen.month, p.user_id ORDER BY boss.user_id) = 1
        """
    )


def _pc_ownership(connection: Transaction, since: date | None, tables: set[str]) -> None:
    """Owner per (week, host): the person with most logon-days on it before the week.

    Only the weeks from the one holding day `since` + 1 on are (re)computed; earlier weeks
    keep the rows the runs that scored their days computed. A week's rows count every
    logon-day before it that is stored now, late-arriving ones included, as a computation of
    every week would.
    """
    fresh = since is None or "host_week" not in tables
    first = "DATE '1900-01-01'" if fresh or since is None else _week_of(since + timedelta(days=1))
    connection.execute(
        f"""CREATE OR REPLACE TEMP TABLE pc_usage AS
        WITH days AS (
            SELECT DISTINCT user, host, CAST(time AS DATE) AS day FROM events
            WHERE channel = 'logon' AND action = 'logon' AND host IS NOT NULL),
        weeks AS (
            SELECT CAST(unnest(generate_series(
                greatest(CAST(min(date_trunc('week', day)) AS DATE), {first}),
                CAST(max(date_trunc('week', day)) AS DATE) + INTERVAL 7 DAY,
                INTERVAL 7 DAY)) AS DATE) AS week FROM days)
        SELECT weeks.week, days.user, days.host, count(*) AS total
        FROM weeks JOIN days ON days.day < weeks.week
        GROUP BY ALL HAVING count(*) >= {MIN_OWNER_LOGON_DAYS}"""
    )
    owners = (
        "SELECT week, host, user AS owner FROM pc_usage QUALIFY row_number() OVER "
        "(PARTITION BY week, host ORDER BY total DESC, user) = 1"
    )
    if fresh:
        connection.execute("DROP TABLE IF EXISTS pc_week")  # earlier versions' table, unused
    else:  # (a new table, not a DELETE: Spark runs this too)
        owners = f"SELECT * FROM host_week WHERE week < {first} UNION ALL {owners}"
    connection.execute(f"CREATE OR REPLACE TABLE host_week AS {owners}")
    connection.execute("DROP TABLE pc_usage")


def _week_of(day: date) -> str:
    """SQL literal of the Monday starting `day`'s week (DuckDB's `date_trunc('week', ...)`)."""
    return f"DATE '{(day - timedelta(days=day.weekday())).isoformat()}'"


def enriched_events_sql(low: date | None, high: date, user: str | None = None) -> str:
    """Return a query of events in days (low, high] with the columns features aggregate.

    Args:
        low: Exclusive lower day (None: from the start).
        high: Inclusive upper day.
        user: Only this person's events (explanations): filtered before the joins, so one
            person's evidence does not enrich everybody's events of the window first.

    Returns:
        SQL text.
    """
    personal = "[" + ", ".join(_literal(d) for d in personal_email_domains()) + "]"
    job = [d for d, category in load_domains().items() if category == "job"]
    only = "" if user is None else f"AND e.user = {_literal(user)}"
    job_domains = "[" + ", ".join(_literal(d) for d in job) + "]::VARCHAR[]"
    low_sql = (
        "TIMESTAMP '1900-01-01'"
        if low is None
        else f"TIMESTAMP '{low.isoformat()}' + INTERVAL 1 DAY"
    )
    return f"""
    WITH base AS (
        SELECT e.*, CAST(e.time AS DATE) AS day,
            CASE WHEN e.channel = 'http' THEN regexp_replace(
                lower(split_part(split_part(e.object, '/', 3), ':', 1)), '^www\\.', '')
                END AS web_host,
            CASE WHEN e.channel = 'file' THEN lower(regexp_extract(e.object, '[^\\\\/]+$')) END
                AS file_name,
            CASE WHEN e.channel = 'email' THEN list_filter(
                string_split(lower(coalesce(e.object, '')), ';'), lambda r: r <> '')
                END AS recipients
        FROM events e
        WHERE e.time >= {low_sql} AND e.time < TIMESTAMP '{high.isoformat()}' + INTERVAL 1 DAY
            {only}),
    hosts AS (
        SELECT h.web_host, coalesce(d1.category, d2.category, d3.category) AS category
        FROM (SELECT DISTINCT web_host FROM base WHERE web_host IS NOT NULL) h
        LEFT JOIN domain_categories d1 ON d1.domain = h.web_host
        LEFT JOIN domain_categories d2
            ON d2.domain = regexp_replace(h.web_host, '^[^.]+\\.', '')
        LEFT JOIN domain_categories d3
            ON d3.domain = regexp_replace(h.web_host, '^[^.]+\\.[^.]+\\.', '')),
    decoy_names AS (
        SELECT DISTINCT lower(regexp_extract(file_name, '[^\\\\/]+$')) AS name FROM decoys),
    joined AS (
        SELECT b.*, hosts.category,
            coalesce(o.email_domain, lower(split_part(b.sender, '@', 2))) AS org_domain,
            o.first_name, o.last_name, o.supervisor_id,
            hw.owner AS host_owner, uhf.first_day AS host_first_day,
            decoy_names.name IS NOT NULL AS is_decoy
        FROM base b
        LEFT JOIN hosts ON hosts.web_host = b.web_host
        LEFT JOIN org_month o ON o.month = strftime(b.day, '%Y-%m') AND o.user_id = b.user
        LEFT JOIN host_week hw
            ON hw.week = CAST(date_trunc('week', b.day) AS DATE) AND hw.host = b.host
        LEFT JOIN user_host_first uhf ON uhf.user = b.user AND uhf.host = b.host
        LEFT JOIN decoy_names ON decoy_names.name = b.file_name)
    SELECT user, day, event_id, source_id, source_line, time, host, channel, action, object,
        removable, category, is_decoy,
        coalesce(attachment_count, 0) AS attachment_count,
        coalesce(attachment_bytes,
            CASE WHEN coalesce(attachment_count, 0) > 0 THEN size_bytes END, 0) / 1e6
            AS attachment_mb,
        (hour(time) < 6 OR hour(time) >= 20) AS is_after_hours,
        dayofweek(time) IN (0, 6) AS is_weekend,
        coalesce(host_owner IS NOT NULL AND host_owner <> user, false) AS is_other_pc,
        coalesce(host_owner = supervisor_id, false) AS is_supervisor_pc,
        coalesce(host_first_day = day, false) AS is_new_host,
        regexp_matches(lower(coalesce(object, '')), '\\.(exe|dll|bat|ps1|msi|scr)$')
            AS is_executable,
        coalesce(len(recipients), 0) AS recipient_count,
        coalesce(len(list_filter(recipients,
            lambda r: split_part(r, '@', 2) <> org_domain)), 0) AS external_recipients,
        coalesce(len(list_filter(recipients,
            lambda r: list_contains({personal}, split_part(r, '@', 2)))), 0)
            AS personal_recipients,
        coalesce(len(list_filter(recipients,
            lambda r: list_contains({job_domains}, split_part(r, '@', 2)))), 0)
            AS job_recipients,
        coalesce(len(list_filter(recipients,
            lambda r: split_part(r, '@', 2) <> org_domain AND length(first_name) > 1
                AND contains(split_part(r, '@', 1), first_name)
                AND contains(split_part(r, '@', 1), last_name))), 0) AS own_private_recipients
    FROM joined"""
