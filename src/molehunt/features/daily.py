"""Per user-day features: raw aggregates, own and peer baselines, first-time flags, context."""

from __future__ import annotations

from collections.abc import Collection
from datetime import date

from molehunt.features.catalog import (
    BASELINE_DAYS,
    CONFIDENCE_DAYS,
    CONTEXT_COLUMNS,
    PEER_PRIOR_DAYS,
    TREND_DAYS,
    WARM_UP_DAYS,
    load_features,
)
from molehunt.features.enrich import enriched_events_sql, refresh_reference_tables
from molehunt.store.database import Transaction

# A run of at most this many new days computes its own and trend baselines by joining each
# new row with its person's earlier rows (`_joined_frames_sql`); a longer one by windows.
JOINED_FRAMES_MAX_DAYS = 7
# Earlier rows per person the frames can reach (the trend baseline's).
RECENT_ROWS = BASELINE_DAYS + TREND_DAYS


def _day(value: date | None) -> str:
    return "DATE '1900-01-01'" if value is None else f"DATE '{value.isoformat()}'"


def has_context(connection: Transaction) -> bool:
    """Return whether a non-empty `context_daily` table exists.

    Args:
        connection: An open transaction.

    Returns:
        True when context rows can be joined.
    """
    found = connection.execute(
        "SELECT count(*) FROM duckdb_tables() WHERE table_name = 'context_daily'"
    )
    if not found[0][0]:
        return False
    return bool(connection.execute("SELECT EXISTS (SELECT 1 FROM context_daily)")[0][0])


def compute_features(
    connection: Transaction, since: date | None, until: date, *, refresh: bool = True
) -> int:
    """Add the user-days of (since, until] to `features_raw` and `features`.

    Args:
        connection: An open transaction.
        since: Last day already computed (None: nothing yet).
        until: Last day to compute (inclusive).
        refresh: Rebuild the reference tables first (`refresh_reference_tables`); off when
            the caller already refreshed them for a range holding (since, until], as
            `run_detection` does once before computing a long range one period at a time.

    Returns:
        The number of user-days added.
    """
    if refresh:
        refresh_reference_tables(connection, since, until)
    aggregates = ",\n        ".join(f.aggregate_sql() for f in load_features())
    select_raw = f"""
        SELECT user, day, {aggregates}
        FROM ({enriched_events_sql(since, until)}) enriched
        GROUP BY user, day"""
    with_group = f"""
        SELECT r.user, r.day, coalesce(o.peer_group, 'unknown') AS peer_group,
            r.* EXCLUDE (user, day)
        FROM ({select_raw}) r
        LEFT JOIN org_month o ON o.month = strftime(r.day, '%Y-%m') AND o.user_id = r.user"""
    # (Planning a query costs a tenth of a second here: only a new workspace plans it twice.)
    tables = {row[0] for row in connection.execute("SELECT table_name FROM duckdb_tables()")}
    if "features_raw" not in tables:
        connection.execute(f"CREATE TABLE features_raw AS {with_group} LIMIT 0")
    connection.execute(f"INSERT INTO features_raw {with_group}")
    context = has_context(connection)
    if context:
        connection.execute(f"INSERT INTO features_raw BY NAME {_trip_days_sql(since, until)}")
    derived = derived_features_sql(since, until, context)
    if "features" not in tables:
        connection.execute(f"CREATE TABLE features AS {derived} LIMIT 0")
    added = connection.execute(f"INSERT INTO features {derived}")
    return int(added[0][0]) if added else 0


def _trip_days_sql(since: date | None, until: date) -> str:
    """User-days without events on which a leaver's undeclared foreign trip begins.

    A person who has left logs no more events, so without these rows nothing could raise
    their case again; their activity columns stay NULL (no behaviour), the context columns
    carry the trip.
    """
    return f"""
        SELECT c.user, c.day, coalesce(o.peer_group, 'unknown') AS peer_group
        FROM context_daily c
        LEFT JOIN org_month o ON o.month = strftime(c.day, '%Y-%m') AND o.user_id = c.user
        WHERE c.day > {_day(since)} AND c.day <= {_day(until)} AND c.undeclared_travel
          AND EXISTS (SELECT 1 FROM travel t WHERE t.user_id = c.user AND t.depart = c.day
                      AND NOT t.declared)
          AND NOT EXISTS (SELECT 1 FROM features_raw r WHERE r.user = c.user AND r.day = c.day)"""


def deviation_sql(x: str) -> str:
    """Return the SQL of `dev_<x>`: how far the day's count lies above the person's usual.

    The usual is the own mean over the previous `BASELINE_DAYS` active days, shrunk toward
    the peer group's mean (same day) as if the peers were `PEER_PRIOR_DAYS` days of the
    person's history; the spread is the own variance shrunk the same way toward a Poisson
    spread (the variance of a count equal to its mean). Peers' spread is not borrowed: in a
    small group where some people are erratic it would hide everyone's deviations. Counts are
    variance-stabilised (Anscombe: 2 sqrt(x + 3/8) has unit variance for a Poisson count) and
    divided by the square root of the over-dispersion (variance / mean, at least 1), so one
    unit means one standard deviation of the person's own day-to-day variation on any
    channel; days at or below the usual give 0. The result is
    scaled by the confidence in the usual, n / (n + `CONFIDENCE_DAYS`) for n prior active days (up
    to `BASELINE_DAYS`): a deviation from a usual barely known (a new person, or everyone in a
    new deployment) counts less.

    Args:
        x: A baseline feature.

    Returns:
        SQL expression over the columns of `derived_features_sql`'s `p` relation.
    """
    n = f"least(coalesce(prior_days, 0), {BASELINE_DAYS})::DOUBLE"
    k = f"{PEER_PRIOR_DAYS}.0"
    own, peer = f"coalesce(own_mean_{x}, 0)", f"coalesce(peer_mean_{x}, 0)"
    mean = f"(({n} * {own} + {k} * {peer}) / ({n} + {k}))"
    var = f"(({n} * coalesce(own_var_{x}, 0) + {k} * {mean}) / ({n} + {k}))"
    confidence = f"({n} / ({n} + {CONFIDENCE_DAYS}.0))"
    return (
        f"CASE WHEN {x} IS NULL THEN NULL ELSE {confidence} * greatest(0.0, (2 * sqrt({x} + "
        f"0.375) - 2 * sqrt({mean} + 0.375)) / sqrt(greatest(1.0, {var} / ({mean} + 0.375)))) "
        f"END AS dev_{x}"
    )


def derived_feature_columns() -> list[str]:
    """Return the output columns of `derived_features_sql`, in order.

    Returns:
        `user`, `day`, `peer_group`, `prior_days`, `peer_count`, then per feature the
        feature and its derived columns, then the context columns.
    """
    names = ["user", "day", "peer_group", "prior_days", "peer_count"]
    for f in load_features():
        x = f.name
        names.append(x)
        if f.baseline:
            names += [f"own_mean_{x}", f"z_own_{x}", f"peer_mean_{x}", f"z_peer_{x}"]
        if f.deviation:
            names.append(f"dev_{x}")
        if f.trend:
            names += [f"recent_{x}", f"trend_mean_{x}", f"z_trend_{x}"]
        if f.first:
            names.append(f"first_{x}")
    return names + list(CONTEXT_COLUMNS)


def derived_features_sql(
    since: date | None, until: date, context: bool, columns: Collection[str] | None = None
) -> str:
    """Return the query of derived features for days (since, until] over all past raw rows.

    Own baselines use the previous `BASELINE_DAYS` active days only (never the day itself);
    a deviation (`z_own_*`) is NULL until the person has `WARM_UP_DAYS` prior active days.
    Peer statistics compare a person with their peer group (LDAP functional unit and
    department) on the same day.

    Args:
        since: Last day already computed.
        until: Last day to compute.
        context: Whether `context_daily` is joined (else context columns are 0); context
            columns are stored as DOUBLE (booleans as 0/1) so rules compare them alike.
        columns: Compute only these output columns (with `user`, `day`, `peer_group`,
            `prior_days` and `peer_count`), and only the windows they read: for a caller that
            needs a few features soon (watch's intra-day rules), inserting `BY NAME`. Each
            column is computed exactly as in the full query. None: every column (the query
            `compute_features` runs).

    Returns:
        SQL text.

    Raises:
        ValueError: A column in `columns` is not an output of the query.
    """
    features = load_features()
    if columns is not None:
        unknown = sorted(set(columns) - set(derived_feature_columns()))
        if unknown:
            raise ValueError(f"not a derived feature column: {', '.join(unknown)}")

    def wanted(*names: str) -> bool:
        return columns is None or any(name in columns for name in names)

    # (alias, aggregate, feature, frame, outer expression of the aggregate's value)
    windows: list[tuple[str, str, str, str, str]] = []
    history: list[str] = ["count(*) AS earlier"]
    peers: list[str] = ["count(*) OVER peers AS peer_count"]
    outputs: list[str] = ["peer_count"]
    # With `columns`, each piece is kept when an output that reads it is wanted (`wanted`);
    # without, every piece is kept, in the same order: the full query is unchanged.
    for f in features:
        x = f.name
        dev = (f"dev_{x}",) if f.deviation else ()
        if wanted(x) and x == "new_hosts":
            outputs.append(f"CASE WHEN prior_days >= {WARM_UP_DAYS} THEN {x} ELSE 0 END AS {x}")
        elif wanted(x):
            outputs.append(x)
        if f.baseline:
            if wanted(f"own_mean_{x}", f"z_own_{x}", *dev):
                windows.append((f"own_mean_{x}", "avg", x, "own", "{}"))
            if wanted(f"z_own_{x}", *dev):
                windows.append((f"own_var_{x}", "var_pop", x, "own", "{}"))
            if wanted(f"peer_mean_{x}", f"z_peer_{x}", *dev):
                peers.append(f"avg({x}) OVER peers AS peer_mean_{x}")
            if wanted(f"z_peer_{x}"):
                peers.append(f"var_pop({x}) OVER peers AS peer_var_{x}")
            for name, sql in (
                (f"own_mean_{x}", f"own_mean_{x}"),
                (
                    f"z_own_{x}",
                    f"CASE WHEN prior_days >= {WARM_UP_DAYS} THEN ({x} - own_mean_{x}) / "
                    f"sqrt(coalesce(own_var_{x}, 0) + own_mean_{x} + 1) END AS z_own_{x}",
                ),
                (f"peer_mean_{x}", f"peer_mean_{x}"),
                (
                    f"z_peer_{x}",
                    f"({x} - peer_mean_{x}) / sqrt(coalesce(peer_var_{x}, 0) + peer_mean_{x} + 1)"
                    f" AS z_peer_{x}",
                ),
            ):
                if wanted(name):
                    outputs.append(sql)
        if f.deviation and wanted(f"dev_{x}"):
            outputs.append(deviation_sql(x))
        if f.trend:
            if wanted(f"recent_{x}", f"z_trend_{x}"):
                windows.append((f"recent_{x}", "sum", x, "trend_recent", "{}"))
            if wanted(f"trend_mean_{x}", f"z_trend_{x}"):
                windows.append((f"trend_mean_{x}", "avg", x, "trend_base", "{}"))
            if wanted(f"z_trend_{x}"):
                windows.append((f"trend_var_{x}", "var_pop", x, "trend_base", "{}"))
            for name, sql in (
                (f"recent_{x}", f"recent_{x}"),
                (f"trend_mean_{x}", f"trend_mean_{x}"),
                (
                    f"z_trend_{x}",
                    f"CASE WHEN prior_days >= {TREND_DAYS + WARM_UP_DAYS} THEN (recent_{x} - "
                    f"{TREND_DAYS} * trend_mean_{x}) / sqrt({TREND_DAYS} * "
                    f"coalesce(trend_var_{x}, 0) + trend_mean_{x} + 1) END AS z_trend_{x}",
                ),
            ):
                if wanted(name):
                    outputs.append(sql)
        if f.first and wanted(f"first_{x}"):
            history.append(f"max({x}) AS ever_{x}")
            ever = f"greatest(coalesce({{}}, 0), coalesce(h.ever_{x}, 0))"
            windows.append((f"ever_{x}", "max", x, "past", ever))
            outputs.append(
                f"CASE WHEN prior_days >= {WARM_UP_DAYS} AND {x} > 0 AND ever_{x} = 0 "
                f"THEN 1.0::DOUBLE ELSE 0.0::DOUBLE END AS first_{x}"
            )
    for name, sql_type in CONTEXT_COLUMNS.items():
        source = f"CAST(c.{name} AS INTEGER)" if sql_type == "BOOLEAN" else f"c.{name}"
        value = f"coalesce({source}, 0)::DOUBLE" if context else "0.0::DOUBLE"
        if wanted(name):
            outputs.append(f"{value} AS {name}")
    context_join = (
        "LEFT JOIN context_daily c ON c.user = p.user AND c.day = p.day"
        if context and wanted(*CONTEXT_COLUMNS)
        else ""
    )
    joined = since is not None and (until - since).days <= JOINED_FRAMES_MAX_DAYS
    frames = _joined_frames_sql(since, until, windows) if joined else _windowed_frames_sql(windows)
    return f"""
    WITH h AS (
        SELECT user, {", ".join(history)} FROM features_raw
        WHERE day <= {_day(since)} GROUP BY user),
    recent AS (
        SELECT * FROM features_raw WHERE day > {_day(since)} AND day <= {_day(until)}
        UNION ALL
        SELECT * EXCLUDE (newest) FROM (
            SELECT *, row_number() OVER (PARTITION BY user ORDER BY day DESC) AS newest
            FROM features_raw WHERE day <= {_day(since)})
        WHERE newest <= {RECENT_ROWS}),
    {frames},
    p AS (
        SELECT w.*, {", ".join(peers)} FROM w
        WHERE day > {_day(since)} AND day <= {_day(until)}
        WINDOW peers AS (PARTITION BY peer_group, day))
    SELECT p.user, p.day, p.peer_group, p.prior_days, {", ".join(outputs)}
    FROM p {context_join}"""


# Only the new days and each person's last BASELINE_DAYS + TREND_DAYS earlier rows (`recent`)
# enter the frames; what they need from further back (how many active days, whether a
# behaviour was ever seen) comes from one grouped pass (`h`), so a one-day run does not
# re-window the past. Frames count rows (active days) before the row, as windows over
# `recent` ordered by day:
_FRAMES = {
    "past": ("UNBOUNDED PRECEDING AND 1 PRECEDING", "o.rn < t.rn"),
    "own": (
        f"{BASELINE_DAYS} PRECEDING AND 1 PRECEDING",
        f"o.rn BETWEEN t.rn - {BASELINE_DAYS} AND t.rn - 1",
    ),
    "trend_recent": (
        f"{TREND_DAYS - 1} PRECEDING AND CURRENT ROW",
        f"o.rn BETWEEN t.rn - {TREND_DAYS - 1} AND t.rn",
    ),
    "trend_base": (
        f"{BASELINE_DAYS + TREND_DAYS - 1} PRECEDING AND {TREND_DAYS} PRECEDING",
        f"o.rn BETWEEN t.rn - {BASELINE_DAYS + TREND_DAYS - 1} AND t.rn - {TREND_DAYS}",
    ),
}


def _windowed_frames_sql(windows: list[tuple[str, str, str, str, str]]) -> str:
    """The `w` relation by window functions over all of `recent`: cheapest for many new days."""
    items = "".join(
        f",\n            {outer.format(f'{aggregate}({x}) OVER {frame}')} AS {alias}"
        for alias, aggregate, x, frame, outer in windows
    )
    specs = ",\n               ".join(
        f"{name} AS (PARTITION BY r.user ORDER BY r.day ROWS BETWEEN {rows})"
        for name, (rows, _) in _FRAMES.items()
    )
    return f"""w AS (
        SELECT r.*,
            count(*) OVER past
                + greatest(coalesce(h.earlier, 0) - {RECENT_ROWS}, 0) AS prior_days{items}
        FROM recent r LEFT JOIN h ON h.user = r.user
        WINDOW {specs})"""


def _joined_frames_sql(
    since: date | None, until: date, windows: list[tuple[str, str, str, str, str]]
) -> str:
    """The `w` relation of the new days only, each joined with its person's earlier rows of
    `recent` and aggregated with one filter per frame: a window function would compute its
    frames for every row of `recent` (about 70 per person) to keep one."""
    aggregates = "".join(
        f",\n            {aggregate}(o.{x}) FILTER (WHERE {_FRAMES[frame][1]}) AS {alias}"
        for alias, aggregate, x, frame, _ in windows
    )
    items = "".join(
        f",\n            {outer.format(f'f.{alias}')} AS {alias}"
        for alias, _, _, _, outer in windows
    )
    return f"""numbered AS (
        SELECT *, row_number() OVER (PARTITION BY user ORDER BY day) AS rn FROM recent),
    framed AS (
        SELECT t.user, t.day, count(*) FILTER (WHERE o.rn < t.rn) AS past_rows{aggregates}
        FROM numbered t JOIN numbered o ON o.user = t.user AND o.rn <= t.rn
        WHERE t.day > {_day(since)} AND t.day <= {_day(until)}
        GROUP BY t.user, t.day),
    w AS (
        SELECT r.* EXCLUDE (rn),
            f.past_rows
                + greatest(coalesce(h.earlier, 0) - {RECENT_ROWS}, 0) AS prior_days{items}
        FROM numbered r JOIN framed f ON f.user = r.user AND f.day = r.day
        LEFT JOIN h ON h.user = r.user)"""
