"""Per user-day context signals (`context_daily`) for the detection stage's scoring.

One row per user-day with activity or context (an HR event, a trip's departure). Every value is
causal: the row of day d uses only events before d+1 and context records dated on or before d
(an HR event is known from its `day`, a trip from its departure, a last working day from the
day it was recorded), so adding later data never changes an earlier row. Documents and
clearances carry no date and hold for every day. The values are counts and flags, not
decisions; the score stage weighs them.
"""

from __future__ import annotations

import datetime

from molehunt.context.labels import label_events, registry_signature
from molehunt.context.leaver import seal_leaver_records
from molehunt.store import Store
from molehunt.store.database import Transaction

LOOKBACK_DAYS = 90
STRESSOR_DAYS = 180
AFTER_DEPARTURE_TRAVEL_DAYS = 180
NOTICE_KINDS = ("resignation_notice", "termination")
STRESSOR_KINDS = ("grievance", "performance_plan", "disciplinary_action", "financial_stress")

_ACTIVITY = """
ev AS (
    SELECT "user", time::DATE AS day, channel, action, removable, object, sender,
        source_id, source_line,
        hour(time) < 6 OR hour(time) >= 20 OR dayofweek(time) IN (0, 6) AS after_hours
    FROM events WHERE ({until} IS NULL OR time < ({until} + 1)::TIMESTAMP)
        AND ({since} IS NULL OR time >= ({since} + 1)::TIMESTAMP)
),
org AS (
    SELECT coalesce(list(DISTINCT lower(split_part(email, '@', 2))), []::VARCHAR[]) AS domains
    FROM people WHERE contains(email, '@')
),
clr AS (
    SELECT user_id, arg_max(level_rank, source_id * 10000000000 + source_line) AS rank,
        arg_max(compartments, source_id * 10000000000 + source_line) AS compartments,
        arg_max(priority, source_id * 10000000000 + source_line) AS priority
    FROM clearances GROUP BY user_id
),
lab AS (
    SELECT ev.*, l.level_rank, l.compartments,
        ev.channel = 'email' AND ev.action = 'send' AND len(list_filter(
            string_split(lower(coalesce(ev.object, '')), ';'),
            lambda r: contains(r, '@') AND NOT list_contains(
                CASE WHEN len(org.domains) > 0 THEN org.domains
                ELSE [lower(split_part(ev.sender, '@', 2))] END,
                split_part(trim(r), '@', 2)))) > 0 AS external
    FROM ev JOIN {labels} l USING (source_id, source_line) CROSS JOIN org
    WHERE l.level_rank IS NOT NULL
),
touched AS (
    SELECT lab."user", lab.day,
        count(*) FILTER (WHERE channel = 'file' AND level_rank >= 1) AS classified_read,
        count(*) FILTER (WHERE channel = 'file' AND level_rank >= 1
            AND removable IN ('to', 'both')) AS classified_removable,
        count(*) FILTER (WHERE external AND level_rank >= 1) AS classified_emailed,
        count(*) FILTER (WHERE channel = 'http' AND action = 'upload'
            AND level_rank >= 1) AS classified_uploaded,
        max(level_rank) AS max_level_rank,
        -- receiving is passive: the sender's access, not the recipient's
        count(*) FILTER (WHERE h.any_clearance AND action <> 'receive'
            AND level_rank > coalesce(c.rank, 0)) AS above_clearance,
        count(*) FILTER (WHERE h.any_clearance AND action <> 'receive' AND NOT list_has_all(
            coalesce(c.compartments, []::VARCHAR[]), lab.compartments)) AS need_to_know,
        count(*) FILTER (WHERE channel = 'print' AND level_rank >= 1) AS classified_printed,
        count(*) FILTER (WHERE channel = 'print' AND level_rank >= 1 AND after_hours)
            AS classified_printed_after_hours,
        count(*) FILTER (WHERE channel = 'print' AND h.any_clearance AND (
            level_rank > coalesce(c.rank, 0) OR NOT list_has_all(
                coalesce(c.compartments, []::VARCHAR[]), lab.compartments)))
            AS printed_outside_need_to_know
    FROM lab LEFT JOIN clr c ON c.user_id = lab."user"
        CROSS JOIN (SELECT count(*) > 0 AS any_clearance FROM clearances) h
    GROUP BY lab."user", lab.day
),
activity AS (SELECT "user", day, count(*) AS events FROM ev GROUP BY "user", day),
-- The first day each person printed a document of each compartment (see `_PRINTED`).
first_printed AS (SELECT "user", day, count(*) AS compartments FROM ({printed}) GROUP BY ALL)"""

# (person, compartment, first day printed) over the labelled print events of the days (low, high].
# The events are filtered before the join: filtered after it (with the unnest), DuckDB reads
# every event's keys from the Parquet batches.
_PRINTED = """
    SELECT e."user", c.compartment, min(e.time::DATE) AS day
    FROM (
        SELECT "user", time, source_id, source_line FROM events
        WHERE channel = 'print' AND ({high} IS NULL OR time < ({high} + 1)::TIMESTAMP)
            AND ({low} IS NULL OR time >= ({low} + 1)::TIMESTAMP)
    ) e JOIN {labels} l USING (source_id, source_line), unnest(l.compartments) AS c(compartment)
    GROUP BY e."user", c.compartment"""
# The labels of one period's events, for `labels=`: joined directly with a period's events,
# DuckDB builds its hash table on the whole of `event_labels` (every labelled event ever: 2 s
# at 1,000 people x 500 days for a day's few thousand), as it cannot estimate how few events a
# day's filter on the Parquet batches leaves; from a table of the period's keys it can.
_PERIOD_LABELS = (
    """CREATE OR REPLACE TEMP TABLE period_keys AS SELECT source_id, source_line FROM events
    WHERE time >= ({since} + 1)::TIMESTAMP
        AND ({until} IS NULL OR time < ({until} + 1)::TIMESTAMP)""",
    """CREATE OR REPLACE TEMP TABLE period_labels AS SELECT * FROM event_labels
    WHERE (source_id, source_line) IN (SELECT source_id, source_line FROM period_keys)""",
    "DROP TABLE period_keys",
)
# Which (person, compartment) pairs were printed on or before a day, kept up to date by
# `compute_context_daily` so that a run reads only its own days' print events.
_PRINTED_COLUMNS = (
    "(user VARCHAR, compartment VARCHAR, first_day DATE, PRIMARY KEY (user, compartment))"
)

_CONTEXT = """
notices AS (SELECT user_id, day FROM hr_events WHERE kind IN {notice_kinds}),
lwd AS (
    SELECT user_id, day AS last_day, day AS known_day FROM hr_events
    WHERE kind = 'last_working_day'
    UNION ALL
    SELECT user_id, last_day, day FROM hr_events WHERE last_day IS NOT NULL
),
days AS (
    SELECT "user", day FROM activity
    UNION SELECT user_id, day FROM hr_events
    UNION SELECT user_id, depart FROM travel
),
base AS (
    SELECT d."user", d.day, coalesce(a.events, 0) AS events,
        coalesce(t.classified_read, 0) AS classified_read,
        coalesce(t.classified_removable, 0) AS classified_removable,
        coalesce(t.classified_emailed, 0) AS classified_emailed,
        coalesce(t.classified_uploaded, 0) AS classified_uploaded,
        t.max_level_rank, coalesce(t.above_clearance, 0) AS above_clearance,
        coalesce(t.need_to_know, 0) AS need_to_know_violations,
        coalesce(t.classified_printed, 0) AS classified_printed,
        coalesce(t.classified_printed_after_hours, 0) AS classified_printed_after_hours,
        coalesce(t.printed_outside_need_to_know, 0) AS printed_outside_need_to_know,
        coalesce(fp.compartments, 0) AS compartments_first_printed,
        coalesce(c.priority, false) AS priority_user,
        (SELECT max(n.day) FROM notices n
            WHERE n.user_id = d."user" AND n.day <= d.day) AS latest_notice,
        (SELECT max(l.last_day) FROM lwd l WHERE l.user_id = d."user"
            AND l.known_day <= d.day AND l.last_day < d.day) AS last_departure
    FROM days d LEFT JOIN activity a USING ("user", day) LEFT JOIN touched t USING ("user", day)
        LEFT JOIN first_printed fp USING ("user", day)
        LEFT JOIN clr c ON c.user_id = d."user"
    WHERE ({until} IS NULL OR d.day <= {until})
        AND ({since} IS NULL OR d.day > {since})
),
state AS (
    SELECT b.*,
        (SELECT max(l.last_day) FROM lwd l WHERE l.user_id = b."user"
            AND l.known_day <= b.day AND l.last_day >= b.latest_notice) AS known_last,
        EXISTS (SELECT 1 FROM notices n WHERE n.user_id = b."user" AND n.day = b.day)
            AS notice_today,
        (SELECT count(*) FROM hr_events s WHERE s.user_id = b."user"
            AND s.kind IN {stressor_kinds} AND s.day <= b.day
            AND s.day > b.day - {stressor_days}) AS stressors,
        EXISTS (SELECT 1 FROM travel t WHERE t.user_id = b."user" AND NOT t.declared
            AND t.depart <= b.day AND (
                EXISTS (SELECT 1 FROM lwd l WHERE l.user_id = b."user" AND l.known_day <= b.day
                    AND t.depart > l.last_day AND t.depart <= l.last_day + {travel_days})
                OR EXISTS (SELECT 1 FROM notices n WHERE n.user_id = b."user"
                    AND n.day <= t.depart AND NOT EXISTS (
                        SELECT 1 FROM lwd l WHERE l.user_id = b."user"
                        AND l.known_day <= b.day AND l.last_day >= n.day
                        AND l.last_day < t.depart)))) AS undeclared_travel
    FROM base b
)"""

_SELECT = """
SELECT "user", day, classified_read, classified_removable, classified_emailed,
    classified_uploaded, max_level_rank, above_clearance, need_to_know_violations,
    coalesce(latest_notice IS NOT NULL AND (known_last IS NULL OR day <= known_last), false)
        AS departing,
    notice_today,
    CASE WHEN notice_today THEN sum(classified_removable + classified_emailed
        + classified_uploaded + classified_printed) OVER (PARTITION BY "user" ORDER BY day
        RANGE BETWEEN INTERVAL {lookback} DAYS PRECEDING AND CURRENT ROW) + {earlier} ELSE 0 END
        AS lookback_classified_90d,
    stressors, priority_user,
    CASE WHEN last_departure IS NOT NULL
        AND (latest_notice IS NULL OR latest_notice <= last_departure)
        THEN events ELSE 0 END AS after_departure,
    undeclared_travel, classified_printed, classified_printed_after_hours,
    printed_outside_need_to_know, compartments_first_printed
FROM state"""


def _date(day: datetime.date | None) -> str:
    return "NULL::DATE" if day is None else f"DATE '{day.isoformat()}'"


def context_daily_sql(
    until: datetime.date | None,
    since: datetime.date | None = None,
    *,
    printed_before: bool = False,
    labels: str = "event_labels",
) -> str:
    """Return the query computing `context_daily` rows for the days in (since, until].

    Only the new days' events are read; a notice day's lookback adds the classified counts of
    the earlier days from `context_daily` itself, so an incremental run gives the rows a full
    run would. Whether a compartment was printed before comes from all print events up to
    `until`, or, with `printed_before`, from `printed_compartments` (which must then hold
    every pair printed on or before `since`) and the new days' print events only.

    Args:
        until: Last day to compute (None: all data).
        since: Last day already computed (None: from the first day).
        printed_before: Read earlier printing from `printed_compartments`.
        labels: The table of event labels to read (holding at least those of the events in
            (since, until]).

    Returns:
        A SELECT with the columns of `context_daily`, in order.
    """
    printed = _PRINTED.format(high=_date(until), low="NULL::DATE", labels="event_labels")
    if printed_before and since is not None:
        new = _PRINTED.format(high=_date(until), low=_date(since), labels=labels)
        printed = (
            f"SELECT * FROM ({new}) n "
            "WHERE NOT EXISTS (SELECT 1 FROM printed_compartments p WHERE p.user = n.user "
            f"AND p.compartment = n.compartment AND p.first_day <= {_date(since)})"
        )

    # An incremental run reads only the new days' events; the lookback's earlier days come
    # from the rows already in `context_daily` (what was known then, never recomputed).
    earlier = "0"
    if since is not None:
        earlier = (
            "(SELECT coalesce(sum(p.classified_removable + p.classified_emailed"
            " + p.classified_uploaded + p.classified_printed), 0)"
            " FROM context_daily p WHERE p.user = state.user"
            f" AND p.day > state.day - {LOOKBACK_DAYS} AND p.day <= {_date(since)})"
        )
    body = f"WITH {_ACTIVITY},{_CONTEXT}{_SELECT}"
    return body.format(
        printed=printed,
        labels=labels,
        until=_date(until),
        since=_date(since),
        earlier=earlier,
        notice_kinds=NOTICE_KINDS,
        stressor_kinds=STRESSOR_KINDS,
        stressor_days=STRESSOR_DAYS,
        travel_days=AFTER_DEPARTURE_TRAVEL_DAYS,
        lookback=LOOKBACK_DAYS - 1,
    )


def compute_context_daily(
    store: Store,
    until: datetime.date | None = None,
    *,
    since: datetime.date | None = None,
    relabel: bool = True,
) -> int:
    """Compute `context_daily` for (since, until] (and seal leaver records now due).

    With `since`, rows up to `since` are kept as they are (a day's signals are what was known
    at its end) and only later days are computed; events are relabelled only after `since`
    unless the document registry changed since the last labelling.

    Args:
        store: The workspace (events and context ingested).
        until: Last day to compute; None computes every day with data. Rows after `until`
            are not kept, so the table holds exactly what was knowable by then.
        since: Last day already computed (None: rebuild everything).
        relabel: Label events first (turn off when labels are known to be current).

    Returns:
        The number of user-day rows written.
    """
    relabelled_all = since is None
    if relabel:
        signature = registry_signature(store)
        known = store.query("SELECT value FROM meta WHERE key = 'labels_registry'")
        relabelled_all = relabelled_all or not known or known[0][0] != signature
        label_events(store, None if relabelled_all else since, count=False)
        with store.transaction() as connection:
            connection.execute(
                "INSERT OR REPLACE INTO meta VALUES ('labels_registry', ?)", [signature]
            )
    with store.transaction() as connection:
        _printed_through(connection, since, rebuild=relabelled_all)
        if since is None:
            connection.execute("DELETE FROM context_daily")
        else:
            connection.execute("DELETE FROM context_daily WHERE day > ?", [since])
        labels = _period_labels(connection, since, until)
        added = connection.execute(
            "INSERT INTO context_daily "
            + context_daily_sql(until, since, printed_before=True, labels=labels)
        )
        printed = _PRINTED.format(high=_date(until), low=_date(since), labels=labels)
        connection.execute(f"INSERT INTO printed_compartments {printed} ON CONFLICT DO NOTHING")
        connection.execute("DROP TABLE IF EXISTS period_labels")
        through = until or connection.execute("SELECT max(time)::DATE FROM events")[0][0]
        connection.execute(
            "INSERT OR REPLACE INTO meta VALUES ('printed_through', ?)",
            [through.isoformat() if through else ""],
        )
    seal_leaver_records(store, until)
    return int(added[0][0]) if added else 0


def _period_labels(
    connection: Transaction, since: datetime.date | None, until: datetime.date | None
) -> str:
    """The labels table of the events after `since`: all labels for a run from the start,
    else `period_labels`, the labels of the period's events only (DuckDB would hash every
    label ever to join them with a day's events). The caller drops `period_labels`."""
    if since is None:
        return "event_labels"
    for statement in _PERIOD_LABELS:
        connection.execute(statement.format(since=_date(since), until=_date(until)))
    return "period_labels"


def add_open_days(
    connection: Transaction, since: datetime.date | None, until: datetime.date
) -> int:
    """Replace the `context_daily` rows after `since` with those of (since, until].

    For a caller that rolls the transaction back (watch's intra-day evaluation): nothing else
    is written, and the rows are those `compute_context_daily(until=until, since=since)`
    computes, read as a day close reads them: earlier printing from `printed_compartments`
    when it is complete through `since` (every print event ever otherwise), and the labels of
    the period's events only. Labels must be current after `since` (`label_events`).

    Args:
        connection: An open transaction.
        since: Last day whose rows are kept (None: every row is replaced).
        until: Last day to compute.

    Returns:
        The number of user-day rows written.
    """
    connection.execute(
        "DELETE FROM context_daily WHERE day > ?", [since or datetime.date(1900, 1, 1)]
    )
    printed = False
    if since is not None:
        known = connection.execute("SELECT value FROM meta WHERE key = 'printed_through'")
        printed = bool(known) and str(known[0][0]) >= since.isoformat()
    labels = _period_labels(connection, since, until)
    added = connection.execute(
        "INSERT INTO context_daily "
        + context_daily_sql(until, since, printed_before=printed, labels=labels)
    )
    connection.execute("DROP TABLE IF EXISTS period_labels")
    return int(added[0][0]) if added else 0


def _printed_through(connection: Transaction, since: datetime.date | None, rebuild: bool) -> None:
    """Make `printed_compartments` hold exactly the pairs first printed on or before `since`.

    Rows of later days (a run set back, or killed) are dropped. The table is filled again from
    every print event when it was never complete through `since` (a new table, one an older
    molehunt left behind) or when every event was relabelled (the registry changed, so earlier
    print events may have other compartments now).
    """
    known = connection.execute("SELECT value FROM meta WHERE key = 'printed_through'")
    complete = bool(known) and since is not None and known[0][0] >= since.isoformat()
    if rebuild or not complete:
        connection.execute(f"CREATE OR REPLACE TABLE printed_compartments {_PRINTED_COLUMNS}")
        if since is not None:
            connection.execute(
                "INSERT INTO printed_compartments "
                + _PRINTED.format(high=_date(since), low="NULL::DATE", labels="event_labels")
            )
    else:
        connection.execute(f"CREATE TABLE IF NOT EXISTS printed_compartments {_PRINTED_COLUMNS}")
        connection.execute("DELETE FROM printed_compartments WHERE first_day > ?", [since])
