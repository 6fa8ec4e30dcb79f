"""Findings of scored days, exported as OCSF Detection Findings or molehunt alert objects.

A finding is a rule hit on a user-day whose score reached `--min-score` (default the operating
threshold, the days molehunt raises an alert for), with the rule's title, severity and tags,
the day's score, and the person's newest event that day (`path:line`). Each finding is the
same `WatchAlert` that `molehunt watch` raises (stage `detect`), written by the same writers:
`ocsf.to_detection_finding` (class 2004) or `WatchAlert.to_dict`, so a SIEM reads exported
findings and live alerts alike (`molehunt export findings`).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from molehunt.detect.loader import list_rules, workspace_rule_paths
from molehunt.errors import ConfigError
from molehunt.score.risk import OPERATING_THRESHOLD
from molehunt.store import Store
from molehunt.watch.alerts import WatchAlert, alert_id
from molehunt.watch.ocsf import to_detection_finding

FORMATS = ("ocsf", "alert")
"""`--format` of `molehunt export findings`: OCSF Detection Finding, or molehunt's alert."""


def scored_findings(
    store: Store,
    min_score: float = OPERATING_THRESHOLD,
    since: date | None = None,
    until: date | None = None,
    rule_paths: Iterable[Path] = (),
    now: datetime | None = None,
) -> list[tuple[WatchAlert, float]]:
    """Return the rule hits of the user-days scored at least `min_score`, with the day's score.

    Args:
        store: The workspace (after `molehunt detect`).
        min_score: The lowest day score whose hits are findings.
        since: First day (None: from the first scored day).
        until: Last day (None: to the last scored day).
        rule_paths: Extra rule files or folders (titles of custom rules).
        now: The findings' creation time (default: now, UTC).

    Returns:
        (alert, the user-day's score) per finding, by day, user and rule.

    Raises:
        ConfigError: Nothing was scored yet.
    """
    tables = {row[0] for row in store.query("SHOW TABLES")}
    if "scores" not in tables or "rule_hits" not in tables:
        raise ConfigError("nothing scored yet: run `molehunt detect` first")
    rules = {r.id: r for r in list_rules([*workspace_rule_paths(store.root), *rule_paths])}
    hits = store.query(
        "SELECT h.user, h.day, h.rule_id, h.weight, s.score FROM rule_hits h "
        "JOIN scores s ON s.user = h.user AND s.day = h.day WHERE s.score >= ? "
        "AND h.day >= coalesce(?::DATE, DATE '0001-01-01') "
        "AND h.day <= coalesce(?::DATE, DATE '9999-12-31') ORDER BY h.day, h.user, h.rule_id",
        [min_score, since, until],
    )
    newest = _newest_events(store, min_score, since, until)
    raised = now or datetime.now(UTC)
    found = []
    for user, day, rule_id, weight, score in hits:
        rule = rules.get(str(rule_id))
        last, evidence = newest.get((str(user), day), (None, ""))
        alert = WatchAlert(
            alert_id=alert_id(str(user), day, str(rule_id)),
            user=str(user),
            day=day,
            rule_id=str(rule_id),
            title=rule.title if rule else str(rule_id),
            description=rule.description if rule else "",
            severity=rule.severity if rule else "medium",
            weight=float(weight if weight is not None else rule.weight if rule else 0.0),
            tags=tuple(rule.tags) if rule else (),
            stage="detect",
            raised=raised,
            last_event=last,
            evidence=evidence,
        )
        found.append((alert, float(score)))
    return found


def _newest_events(
    store: Store, min_score: float, since: date | None, until: date | None
) -> dict[tuple[str, date], tuple[datetime, str]]:
    """Each finding user-day's newest event and its `path:line` (as `alerts.last_events`)."""
    rows = store.query(
        "WITH days AS (SELECT DISTINCT h.user, h.day FROM rule_hits h JOIN scores s "
        "ON s.user = h.user AND s.day = h.day WHERE s.score >= ? "
        "AND h.day >= coalesce(?::DATE, DATE '0001-01-01') "
        "AND h.day <= coalesce(?::DATE, DATE '9999-12-31')), "
        "ranked AS (SELECT e.user, d.day, e.time, s.path || ':' || e.source_line AS place, "
        "row_number() OVER (PARTITION BY e.user, d.day "
        "ORDER BY e.time DESC, e.source_line DESC) AS n "
        "FROM events e JOIN days d ON e.user = d.user AND e.time >= d.day "
        "AND e.time < d.day + INTERVAL 1 DAY JOIN sources s USING (source_id)) "
        "SELECT user, day, time, place FROM ranked WHERE n = 1",
        [min_score, since, until],
    )
    return {(str(user), day): (time, str(place)) for user, day, time, place in rows}


def finding_record(alert: WatchAlert, score: float, output: str) -> dict[str, Any]:
    """One exported finding: the OCSF Detection Finding or the molehunt alert, with its score.

    Args:
        alert: The finding.
        score: The user-day's score (`unmapped.score` in OCSF).
        output: 'ocsf' or 'alert'.
    """
    if output == "ocsf":
        finding = to_detection_finding(alert)
        finding["unmapped"]["score"] = round(score, 4)
        return finding
    return {**alert.to_dict(), "score": round(score, 4)}


def export_findings(
    store: Store,
    out: Path,
    output: str = "ocsf",
    min_score: float = OPERATING_THRESHOLD,
    since: date | None = None,
    until: date | None = None,
    rule_paths: Iterable[Path] = (),
    now: datetime | None = None,
) -> int:
    """Write the findings as JSON Lines (`-`: standard output); see `scored_findings`.

    Returns:
        Findings written.

    Raises:
        ConfigError: An unknown format, nothing scored yet, or the file cannot be written.
    """
    if output not in FORMATS:
        raise ConfigError(f"unknown findings format '{output}' (expected {' or '.join(FORMATS)})")
    found = scored_findings(store, min_score, since, until, rule_paths, now)
    lines = [
        json.dumps(finding_record(alert, score, output), sort_keys=True) + "\n"
        for alert, score in found
    ]
    if str(out) == "-":
        sys.stdout.write("".join(lines))
        return len(lines)
    try:
        out.write_text("".join(lines), encoding="utf-8")
    except OSError as error:
        raise ConfigError(f"cannot write {out}: {error.strerror or error}") from error
    return len(lines)
