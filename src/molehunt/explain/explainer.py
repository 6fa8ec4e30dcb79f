"""Build the explanation of one person's score on one day."""

from __future__ import annotations

import math
from collections.abc import Iterable
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from molehunt.context import leaver_record
from molehunt.detect.loader import list_rules, workspace_rule_paths
from molehunt.detect.rule import Rule
from molehunt.errors import ConfigError
from molehunt.explain.classified import classified_movements
from molehunt.explain.deviation import deviations
from molehunt.explain.finding import Contribution, EvidenceEvent, Explanation, Finding
from molehunt.features.catalog import TREND_DAYS, base_feature, load_features
from molehunt.features.enrich import enriched_events_sql
from molehunt.score.queue import resolve_day
from molehunt.score.risk import (
    DEFAULT_SCORING,
    ScoringConfig,
    accumulated_sql,
    open_case_total_sql,
    score_from_total,
)
from molehunt.store.database import Store

MAX_EVIDENCE = 50
NOTABLE_Z = 3.0


def rule_evidence(store: Store, rule: Rule, user: str, day: date) -> list[EvidenceEvent]:
    """Return the events behind a rule's conditions for a person on a day.

    Each condition shows the events of its own window: a same-day condition the day's events,
    `max(x, 45d)` those of the 45 days up to the day.

    Args:
        store: The workspace (after `run_detection`).
        rule: The rule.
        user: The person.
        day: The day.

    Returns:
        Up to `MAX_EVIDENCE` events, by time.
    """
    predicates = []
    for condition in rule.conditions:
        feature = base_feature(condition.feature)
        if feature is not None and feature.evidence:
            first = day - timedelta(days=max(condition.window_days, 1) - 1)
            predicates.append(f"(day >= DATE '{first.isoformat()}' AND ({feature.where}))")
    if not predicates:
        return []
    low = day - timedelta(days=rule.max_window_days)
    rows = store.query(
        f"""SELECT event_id, source_id, source_line, time, channel, action, host, object
        FROM ({enriched_events_sql(low, day, user)}) WHERE user = ? AND ({" OR ".join(predicates)})
        ORDER BY time, source_id, source_line LIMIT {MAX_EVIDENCE}""",
        [user],
    )
    return [EvidenceEvent(*row) for row in rows]


def others_mean(row: dict[str, Any], name: str) -> float | None:
    """Return the mean of feature `name` over the person's active peers that day, without them.

    `peer_mean_<name>` includes the person (a group's z-score needs them); an explanation that
    says "peers 6.0" must not count the person's own 20 in it. Rows without `peer_count` (kept
    from before it existed) give the group's mean as stored.

    Args:
        row: A `features` row.
        name: A baseline feature.

    Returns:
        The others' mean, or None without peers (or without a peer mean).
    """
    mean, count = row.get(f"peer_mean_{name}"), row.get("peer_count")
    if mean is None:
        return None
    if count is None:
        return float(mean)
    if count <= 1:
        return None
    return (int(count) * float(mean) - float(row.get(name) or 0)) / (int(count) - 1)


def _contribution(name: str, row: dict[str, Any]) -> Contribution:
    value = float(row[name])
    own, z_own = row.get(f"own_mean_{name}"), row.get(f"z_own_{name}")
    z_peer = row.get(f"z_peer_{name}")
    definition = base_feature(name)
    text = f"{definition.doc if definition else name}: {value:g}"
    if own is not None and z_own is not None:
        spread = abs((value - own) / z_own) if z_own else math.sqrt(own + 1)
        text += f"; own usual {own:.1f} +/- {spread:.1f}"
    elif f"z_own_{name}" in row:
        text += "; own usual unknown (fewer than 10 earlier active days)"
    peer = others_mean(row, name)
    if peer is not None:
        text += f"; peers {peer:.1f}"
    elif row.get("peer_count") == 1:
        text += "; no peer active that day"
    recent, usual = row.get(f"recent_{name}"), row.get(f"trend_mean_{name}")
    if row.get(f"z_trend_{name}") is not None and recent is not None and usual is not None:
        text += (
            f"; last {TREND_DAYS} active days {recent:g}, usually {TREND_DAYS * usual:.1f}"
            f" in {TREND_DAYS} days"
        )
    return Contribution(name, value, own, peer, z_own, z_peer, text)


def _notable(row: dict[str, Any], hit_rules: list[Rule]) -> list[str]:
    names: list[str] = []
    for rule in hit_rules:
        for condition in rule.conditions:
            feature = base_feature(condition.feature)
            if feature is not None and feature.name not in names:
                names.append(feature.name)
    for feature in load_features():
        z_own = row.get(f"z_own_{feature.name}") or 0.0
        z_peer = row.get(f"z_peer_{feature.name}") or 0.0
        if max(z_own, z_peer) > NOTABLE_Z and row[feature.name] > 0 and feature.name not in names:
            names.append(feature.name)
    return names


def counterfactual_scores(
    store: Store, user: str, day: date, config: ScoringConfig = DEFAULT_SCORING
) -> dict[str, float]:
    """Return, for each context booster active in the score, the score without it.

    Args:
        store: The workspace.
        user: The person.
        day: The day.
        config: Scoring weights (as used by `run_detection`).

    Returns:
        Booster name -> score (only boosters that changed something).
    """
    result: dict[str, float] = {}
    scored = store.query(
        """SELECT s.open_case, r.reference FROM scores s JOIN score_reference r USING (day)
        WHERE s.user = ? AND s.day = ?""",
        [user, day],
    )
    features = store.query_dicts("SELECT * FROM features WHERE user = ? AND day = ?", [user, day])
    if not scored or not features:
        return result
    open_case, reference = bool(scored[0][0]), float(scored[0][1])
    for name, _weight in config.boosters:
        if not features[0].get(name):
            continue
        query = accumulated_sql(day - timedelta(days=1), day, config, without=name, user=user)
        total = open_case_total_sql(config)
        flagged = f"SELECT *, {open_case} AS open_case FROM ({query})"
        rows = store.query(f"SELECT {total} FROM ({flagged})")
        if rows:
            result[name] = score_from_total(float(rows[0][0]), reference)
    return result


def explain_user(
    store: Store, user: str, day: date | None = None, rule_paths: Iterable[Path] = ()
) -> Explanation:
    """Explain a person's score on a day: rule hits with evidence, deviations, boosters.

    Args:
        store: The workspace (after `run_detection`).
        user: The person.
        day: The day (default: the last scored day).
        rule_paths: Extra rule files or folders, as given to `run_detection`.

    Returns:
        The explanation.

    Raises:
        ConfigError: Nothing scored yet, or the person has no score that day.
    """
    day = resolve_day(store, day)
    scored = store.query_dicts(
        """SELECT s.*, r.reference FROM scores s JOIN score_reference r USING (day)
        WHERE s.user = ? AND s.day = ?""",
        [user, day],
    )
    if not scored:
        raise ConfigError(
            f"no score for user {user!r} on {day.isoformat()} (no activity that day?)"
        )
    features = store.query_dicts("SELECT * FROM features WHERE user = ? AND day = ?", [user, day])[
        0
    ]
    rules = {rule.id: rule for rule in list_rules([*workspace_rule_paths(store.root), *rule_paths])}
    hit_ids = [
        row[0]
        for row in store.query(
            "SELECT rule_id FROM rule_hits WHERE user = ? AND day = ? "
            "ORDER BY weight DESC, rule_id",
            [user, day],
        )
    ]
    hit_rules = [rules[rule_id] for rule_id in hit_ids if rule_id in rules]
    findings = [
        Finding(
            rule.id,
            rule.title,
            rule.severity,
            rule.weight,
            [str(condition) for condition in rule.conditions],
            rule_evidence(store, rule, user, day),
        )
        for rule in hit_rules
    ]
    score = scored[0]
    notice = bool(features.get("notice_today"))
    movements = classified_movements(
        store, user, day, lookback=notice or bool(features.get("departing"))
    )
    return Explanation(
        user=user,
        day=day,
        score=float(score["score"]),
        rank=int(score["rank"]),
        rule_score=float(score["rule_score"]),
        model_score=float(score["model_score"]),
        booster=float(score["booster"]),
        peer_group=str(features["peer_group"]),
        findings=findings,
        contributions=[_contribution(name, features) for name in _notable(features, hit_rules)],
        without_booster=counterfactual_scores(store, user, day),
        classified=movements,
        classified_text=[m.text(day, notice) for m in movements],
        leaver=_leaver(store, user, day),
        alerted_on=_alerted_on(store, user, day) if score["open_case"] else None,
        evidence_score=score_from_total(float(score["evidence_total"]), float(score["reference"])),
        deviations=deviations(store, user, day),
    )


def _alerted_on(store: Store, user: str, day: date) -> date | None:
    """Return the person's latest alert day before `day` (evidence total >= reference)."""
    rows = store.query(
        """SELECT max(s.day) FROM scores s JOIN score_reference r USING (day)
        WHERE s.user = ? AND s.day < ? AND s.evidence_total >= r.reference""",
        [user, day],
    )
    return rows[0][0] if rows and rows[0][0] is not None else None


def _leaver(store: Store, user: str, day: date) -> dict[str, Any] | None:
    """Return the person's sealed leaver record if their last day is on or before `day`."""
    tables = {str(row[0]) for row in store.query("SELECT table_name FROM duckdb_tables()")}
    if "leaver_records" not in tables:
        return None
    record = leaver_record(store, user)
    return record if record is not None and record["last_day"] <= day else None
