"""Intra-day alerts: the compiled critical rules, run on the open (not yet closed) days.

A rule is *critical* when its YAML says `severity: critical` or its weight alone reaches the
alert threshold (`CRITICAL_WEIGHT` = 80 points, which score/risk.py maps to score 50 on any
day: "a rule whose hit alone must raise an alert weighs at least 80").

The open days are evaluated as if they ended now, with the code `molehunt detect` runs: the
feature SQL of `molehunt.features` (aggregates, own and peer baselines, first-time flags,
context columns) and the rule SQL of `molehunt.detect.compiler.compile_rules`, inside one
transaction that is rolled back, so nothing of a partial day is ever kept. Two shortcuts keep
an evaluation well under a second: the reference tables (owner PCs of earlier weeks, LDAP
months, domains) are the ones the last day close computed, which is what they say about any
later day; and the first use of a PC on an open day (`new_hosts`) is known at day close only.
"""

from __future__ import annotations

import hashlib
from collections.abc import Collection, Iterable
from dataclasses import asdict, dataclass
from datetime import date, datetime
from typing import Any

import pyarrow as pa

from molehunt.context.labels import label_events
from molehunt.context.signals import add_open_days
from molehunt.detect.compiler import compile_rules
from molehunt.detect.rule import Rule
from molehunt.features.catalog import CONTEXT_COLUMNS, load_features
from molehunt.features.daily import compute_features, derived_features_sql, has_context
from molehunt.features.enrich import enriched_events_sql
from molehunt.store import Store
from molehunt.store.database import Transaction
from molehunt.watch.pending import PENDING_TABLE

# score/risk.py: 80 points of evidence score 50, the alert threshold, on any day.
CRITICAL_WEIGHT = 80.0
ALERTS_TABLE = (
    "CREATE TABLE IF NOT EXISTS watch_alerts (alert_id VARCHAR PRIMARY KEY, user VARCHAR, "
    "day DATE, rule_id VARCHAR, stage VARCHAR, raised TIMESTAMP, alert JSON)"
)
_REFERENCE_TABLES = ("features_raw", "features", "org_month", "host_week", "domain_categories")
_USERS = "molehunt_watch_users"
# The table references of the generated feature SQL that an evaluation of some people only
# points at their rows (features/enrich.py and features/daily.py write them this way).
_EVENTS_FROM = "FROM events e"
_RAW_FROM = "FROM features_raw"


def is_critical(rule: Rule) -> bool:
    """Tell whether a hit of `rule` raises an alert as soon as it happens.

    Args:
        rule: An enabled rule.

    Returns:
        True for `severity: critical` or a weight of at least `CRITICAL_WEIGHT`.
    """
    return rule.severity == "critical" or rule.weight >= CRITICAL_WEIGHT


@dataclass(frozen=True)
class WatchAlert:
    """One critical rule hit of one user-day, raised once.

    Args:
        alert_id: Stable id of (user, day, rule): the same hit never alerts twice.
        user: The person.
        day: The day of the events.
        rule_id: The rule that fired.
        title: The rule's title.
        description: The rule's description.
        severity: The rule's severity.
        weight: The rule's weight (risk points).
        tags: The rule's tags.
        stage: 'intra-day' (on the open day's events so far) or 'day-close' (found by the
            day's detection run).
        raised: When molehunt raised it (UTC).
        last_event: Time of the person's newest event that day when it was raised.
        evidence: `path:line` of that event.
    """

    alert_id: str
    user: str
    day: date
    rule_id: str
    title: str
    description: str
    severity: str
    weight: float
    tags: tuple[str, ...]
    stage: str
    raised: datetime
    last_event: datetime | None = None
    evidence: str = ""

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON-ready mapping written by the molehunt alert format.

        Returns:
            The fields, dates and times as ISO 8601 strings (times in UTC, with 'Z').
        """
        data = asdict(self)
        data["day"] = self.day.isoformat()
        data["tags"] = list(self.tags)
        data["raised"] = _iso(self.raised)
        data["last_event"] = _iso(self.last_event) if self.last_event else None
        return data


def _iso(moment: datetime) -> str:
    return moment.replace(tzinfo=None).isoformat(timespec="milliseconds") + "Z"


def alert_id(user: str, day: date, rule_id: str) -> str:
    """Return the stable id of a (user, day, rule) hit.

    Args:
        user: The person.
        day: The day.
        rule_id: The rule.

    Returns:
        24 hex digits.
    """
    text = f"{user}\x1f{day.isoformat()}\x1f{rule_id}".encode()
    return hashlib.blake2b(text, digest_size=12).hexdigest()


class _RollBack(Exception):
    """Ends the evaluation transaction without keeping anything."""


def open_day_hits(
    store: Store,
    rules: Iterable[Rule],
    since: date | None,
    until: date,
    users: Collection[str] | None = None,
    staged: bool = False,
    *,
    all_features: bool = False,
) -> list[tuple[str, date, str]]:
    """Return (user, day, rule_id) of the rules' hits on the open days (since, until].

    Args:
        store: The workspace (its `events` hold the open days' events so far).
        rules: The rules to run (the critical ones).
        since: Last closed day (None: nothing closed yet).
        until: Newest open day.
        users: Evaluate only these people (those with new events since the last run); their
            peer statistics then compare them with each other only. None: everyone.
        staged: Also read the staged (parsed, not yet committed) events; the caller commits
            first when `reads_staged()` is false.
        all_features: Compute every feature of the open days, not only those the rules read
            (and what these are derived from); the hits are the same (for tests).

    Returns:
        The hits, as the rules' compiled SQL finds them on the partial days.
    """
    chosen = list(rules)
    if not chosen or (users is not None and not users):
        return []
    hits: list[tuple[str, date, str]] = []
    columns = None if all_features else read_columns(chosen)
    context = _has_context_records(store) and (
        columns is None or not columns.isdisjoint(CONTEXT_COLUMNS)
    )
    if context:
        label_events(store, since)  # the open days' labels, as the day close will recompute
    if users is not None:
        store.register(_USERS, pa.table({"user": pa.array(sorted(users), pa.string())}))
    try:
        with store.transaction() as connection:
            _partial_features(connection, since, until, context, users is not None, staged, columns)
            rows = connection.execute(
                f"SELECT user, day, rule_id FROM ({compile_rules(chosen, since, until)})"
            )
            hits = [(str(user), day, str(rule)) for user, day, rule in rows]
            raise _RollBack
    except _RollBack:
        pass
    finally:
        if users is not None:
            store.unregister(_USERS)
    return hits


def reads_staged() -> bool:
    """Tell whether the feature SQL can be pointed at staged events (see `_partial_features`).

    Returns:
        True when the generated SQL names its tables as expected.
    """
    sample = date(2000, 1, 1)
    return _EVENTS_FROM in enriched_events_sql(sample, sample) and _RAW_FROM in (
        derived_features_sql(sample, sample, False)
    )


def _partial_features(
    connection: Transaction,
    since: date | None,
    until: date,
    context: bool,
    only_users: bool,
    staged: bool,
    columns: set[str] | None = None,
) -> None:
    """Add the open days' rows to `features_raw` and `features` (inside a rolled-back tx).

    With `columns`, only those feature columns (and the raw features and windows they are
    derived from) are computed; the other columns of the open days' rows are NULL.

    The feature SQL reads the open days' events from a temporary view (the committed events
    plus, with `staged`, the staged ones; with `only_users`, the listed people's only) and
    their history from a temporary copy of `features_raw`: the generated SQL's two table
    names are pointed at them. If that SQL ever stops naming them as expected, it runs on the
    real tables (the caller then commits before evaluating: `reads_staged()`).
    """
    if context:
        add_open_days(connection, since, until)  # as the day close will compute them
    tables = {row[0] for row in connection.execute("SELECT table_name FROM duckdb_tables()")}
    if since is None or not set(_REFERENCE_TABLES) <= tables:
        compute_features(connection, since, until)  # nothing closed yet: the full path
        return
    events_sql = enriched_events_sql(since, until)
    derived = derived_features_sql(since, until, has_context(connection), columns)
    raw_table = "features_raw"
    if _EVENTS_FROM in events_sql and _RAW_FROM in derived:
        chosen = f"user IN (SELECT user FROM {_USERS})" if only_users else "true"
        connection.execute(
            f"CREATE TEMP TABLE molehunt_watch_raw AS SELECT * FROM features_raw WHERE {chosen}"
        )
        extra = f" UNION ALL SELECT * FROM {PENDING_TABLE} WHERE {chosen}" if staged else ""
        connection.execute(
            f"CREATE TEMP VIEW molehunt_watch_events AS SELECT * FROM events WHERE {chosen}{extra}"
        )
        events_sql = events_sql.replace(_EVENTS_FROM, "FROM molehunt_watch_events e")
        derived = derived.replace(_RAW_FROM, "FROM molehunt_watch_raw")
        raw_table = "molehunt_watch_raw"
    features = load_features()
    if columns is not None:
        # At least one aggregate: the raw rows are also what says which user-days exist.
        features = tuple(f for f in features if _reads(columns, f.name)) or features[:1]
    aggregates = ",\n        ".join(f.aggregate_sql() for f in features)
    by_name = "" if columns is None else " BY NAME"
    connection.execute(
        f"""INSERT INTO {raw_table}{by_name}
        SELECT r.user, r.day, coalesce(o.peer_group, 'unknown') AS peer_group,
            r.* EXCLUDE (user, day)
        FROM (SELECT user, day, {aggregates}
              FROM ({events_sql}) enriched GROUP BY user, day) r
        LEFT JOIN org_month o ON o.month = strftime(r.day, '%Y-%m') AND o.user_id = r.user"""
    )
    connection.execute(f"INSERT INTO features{by_name} {derived}")


# The derived columns of a feature x are x and these prefixes + x (features/daily.py).
_DERIVED_PREFIXES = (
    "own_mean_",
    "z_own_",
    "peer_mean_",
    "z_peer_",
    "dev_",
    "recent_",
    "trend_mean_",
    "z_trend_",
    "first_",
)


def read_columns(rules: Iterable[Rule]) -> set[str]:
    """Return the feature columns the rules' conditions read.

    Args:
        rules: The rules.

    Returns:
        Column names of the `features` table.
    """
    return {condition.feature for rule in rules for condition in rule.conditions}


def _reads(columns: set[str], feature: str) -> bool:
    """Tell whether any of `columns` is the raw feature or derived from it."""
    return feature in columns or any(prefix + feature in columns for prefix in _DERIVED_PREFIXES)


def _has_context_records(store: Store) -> bool:
    tables = ("documents", "clearances", "hr_events", "travel")
    union = " UNION ALL ".join(f"SELECT 1 FROM {table}" for table in tables)
    return bool(store.query(f"SELECT EXISTS ({union})")[0][0])


def last_events(
    store: Store, pairs: Iterable[tuple[str, date]], staged: bool = False
) -> dict[tuple[str, date], tuple[datetime, str]]:
    """Return each (user, day)'s newest event time and its `path:line`.

    Args:
        store: The workspace.
        pairs: The user-days.
        staged: Also look at the staged events.

    Returns:
        (time, 'path:line') per user-day that has events.
    """
    found: dict[tuple[str, date], tuple[datetime, str]] = {}
    relation = "events"
    if staged:
        relation = f"(SELECT * FROM events UNION ALL SELECT * FROM {PENDING_TABLE})"
    for user, day in set(pairs):
        rows = store.query(
            f"SELECT e.time, s.path || ':' || e.source_line FROM {relation} e "
            "JOIN sources s USING (source_id) WHERE e.user = ? AND e.time >= ? "
            "AND e.time < ? + INTERVAL 1 DAY ORDER BY e.time DESC, e.source_line DESC LIMIT 1",
            [user, day, day],
        )
        if rows:
            found[(user, day)] = (rows[0][0], str(rows[0][1]))
    return found
