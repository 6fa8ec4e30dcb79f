"""The daily queue of people to look at, and the score export."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from molehunt.detect.loader import list_rules, workspace_rule_paths
from molehunt.errors import ConfigError
from molehunt.score.risk import OPERATING_THRESHOLD
from molehunt.store.database import Store


@dataclass(frozen=True)
class QueueEntry:
    """One person in the daily queue.

    Args:
        rank: 1 = riskiest that day.
        user: The person.
        day: The day.
        score: Risk 0-100.
        rule_score: Rule points of the day.
        model_score: Model percentile of the day (0-1).
        booster: Context multiplier applied.
        reasons: Titles of the rules hit that day (or why the score is high without one).
        open_case: Whether the person was alerted in the last few days (carried evidence
            counts only in part; docs/detection.md, "Open cases").
    """

    rank: int
    user: str
    day: date
    score: float
    rule_score: float
    model_score: float
    booster: float
    reasons: list[str] = field(default_factory=list)
    open_case: bool = False

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready mapping.

        Returns:
            The fields, the day as an ISO string.
        """
        data = asdict(self)
        data["day"] = self.day.isoformat()
        return data


def resolve_day(store: Store, day: date | None) -> date:
    """Return `day`, or the last scored day when None.

    Args:
        store: The workspace.
        day: A day or None.

    Returns:
        The day.

    Raises:
        ConfigError: Nothing is scored yet, or the scores come from an older molehunt (run
            `molehunt detect`).
    """
    tables = {row[0] for row in store.query("SELECT table_name FROM duckdb_tables()")}
    newest = store.query("SELECT max(day) FROM scores")[0][0] if "scores" in tables else None
    if newest is None:
        raise ConfigError("no scores in this workspace; run `molehunt detect` first")
    columns = {row[0] for row in store.query("SELECT column_name FROM (DESCRIBE scores)")}
    if "open_case" not in columns:
        raise ConfigError(
            "the scores were computed by an older molehunt; run `molehunt detect` to recompute"
        )
    return day or newest


def daily_queue(store: Store, day: date | None = None, top: int = 10) -> list[QueueEntry]:
    """Return the `top` riskiest people of a day.

    Args:
        store: The workspace.
        day: The day (default: the last scored day).
        top: How many people.

    Returns:
        Entries by rank.

    Raises:
        ConfigError: Nothing scored yet, or `top` < 1.
    """
    if top < 1:
        raise ConfigError(f"--top must be at least 1, got {top}")
    day = resolve_day(store, day)
    titles = {r.id: r.title for r in list_rules(workspace_rule_paths(store.root))}
    rows = store.query(
        """SELECT s.rank, s.user, s.day, s.score, s.rule_score, s.model_score, s.booster,
            list(h.rule_id ORDER BY h.weight DESC) FILTER (WHERE h.rule_id IS NOT NULL),
            s.open_case
        FROM scores s LEFT JOIN rule_hits h ON h.user = s.user AND h.day = s.day
        WHERE s.day = ? AND s.rank <= ? GROUP BY ALL ORDER BY s.rank""",
        [day, top],
    )
    entries = []
    for rank, user, when, score, rule_score, model_score, booster, hits, open_case in rows:
        reasons = [titles.get(rule_id, rule_id) for rule_id in hits or []]
        if not reasons:
            reasons = (
                ["unusual day for the model"] if model_score >= 0.995 else ["earlier evidence"]
            )
        entries.append(
            QueueEntry(
                rank, user, when, score, rule_score, model_score, booster, reasons, bool(open_case)
            )
        )
    return entries


def render_queue(entries: list[QueueEntry]) -> str:
    """Render the queue as plain text, one person per line.

    Args:
        entries: From `daily_queue`.

    Returns:
        Text (no trailing newline).
    """
    if not entries:
        return "no scored people on that day"
    lines = [f"queue for {entries[0].day.isoformat()}"]
    for entry in entries:
        case = " (open case)" if entry.open_case else ""
        lines.append(
            f"{entry.rank:>3}  {entry.user:<10} {entry.score:5.1f}  "
            + "; ".join(entry.reasons)
            + case
        )
    return "\n".join(lines)


def export_scores(store: Store, out: Path) -> int:
    """Write `user,day,score` for every scored user-day to a CSV file.

    Args:
        store: The workspace.
        out: The CSV file to write.

    Returns:
        Rows written.

    Raises:
        ConfigError: Nothing scored yet, or the file cannot be written.
    """
    resolve_day(store, None)
    target = "'" + str(out).replace("'", "''") + "'"
    try:
        rows = store.query(
            f"COPY (SELECT user, strftime(day, '%Y-%m-%d') AS day, round(score, 4) AS score "
            f"FROM scores ORDER BY day, user) TO {target} (HEADER, DELIMITER ',')"
        )
    except Exception as error:  # duckdb.IOException; only the store imports duckdb
        raise ConfigError(f"cannot write {out}: {str(error).splitlines()[0]}") from error
    return int(rows[0][0]) if rows else 0


@dataclass(frozen=True)
class Alert:
    """A person whose score crossed the operating threshold, over the days it stayed there.

    Args:
        user: The person.
        first_day: First day at or above the threshold.
        peak_day: Day of the highest score.
        peak_score: That score.
        days: Days at or above the threshold.
    """

    user: str
    first_day: date
    peak_day: date
    peak_score: float
    days: int

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready mapping (dates as ISO strings)."""
        data = asdict(self)
        data["first_day"] = self.first_day.isoformat()
        data["peak_day"] = self.peak_day.isoformat()
        return data


def alert_history(store: Store, threshold: float = OPERATING_THRESHOLD) -> list[Alert]:
    """Return everyone whose score ever reached `threshold`, by the first day they did.

    Args:
        store: The workspace (after `run_detection`).
        threshold: The score that raises an alert (default: the operating threshold).

    Returns:
        One alert per person, earliest first.
    """
    rows = store.query(
        "SELECT user, min(day), arg_max(day, score), max(score), count(*) FROM scores "
        "WHERE score >= ? GROUP BY user ORDER BY min(day), user",
        [threshold],
    )
    return [Alert(str(u), first, peak, float(score), int(n)) for u, first, peak, score, n in rows]
