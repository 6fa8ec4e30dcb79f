"""Acts count in full every time; the score is one fixed function of the evidence on any day."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

from molehunt.score.risk import DEFAULT_SCORING, score_from_total
from molehunt.store import Store
from tests.detect.handwritten import TARGET, build


def _evening(day_offset: int) -> list[dict[str, Any]]:
    """An after-hours session with a drive in and a visit to a leak site."""
    day = (TARGET + timedelta(days=day_offset)).isoformat()
    return [
        {"time": f"{day}T21:00:00Z", "host": "PC-1", "channel": "logon", "action": "logon"},
        {"time": f"{day}T21:05:00Z", "host": "PC-1", "channel": "device", "action": "connect"},
        {
            "time": f"{day}T21:10:00Z",
            "host": "PC-1",
            "channel": "http",
            "action": "visit",
            "object": "http://wikileaks.org/submit",
        },
        {"time": f"{day}T21:30:00Z", "host": "PC-1", "channel": "device", "action": "disconnect"},
    ]


def test_a_repeated_act_counts_in_full_every_time(store: Store, tmp_path: Path) -> None:
    build(store, tmp_path, _evening(0) + _evening(2) + _evening(6))
    days = [TARGET + timedelta(days=n) for n in (0, 2, 6)]
    hits = store.query(
        "SELECT day, weight FROM rule_hits WHERE user = 'ALICE01' "
        "AND rule_id = 'leak-site-visit-after-hours-with-removable' ORDER BY day"
    )
    assert [day for day, _ in hits] == days
    # the act keeps its whole weight (60) on every occurrence, while the plain leak-site visit
    # habituates and the first-time rules (first after-hours logon, first leak-site visit) fire
    # only the first time
    points = dict(
        store.query(
            "SELECT day, rule_score FROM daily_evidence "
            "WHERE user = 'ALICE01' AND day IN (?, ?, ?)",
            days,
        )
    )
    assert points[days[0]] > points[days[1]] > points[days[2]] >= 60
    ranks = store.query(
        "SELECT day, rank FROM scores WHERE user = 'ALICE01' AND day IN (?, ?, ?) ORDER BY day",
        days,
    )
    assert [rank for _, rank in ranks] == [1, 1, 1]


def test_the_same_evidence_scores_the_same_on_every_day(store: Store, tmp_path: Path) -> None:
    build(store, tmp_path, _evening(0) + _evening(3))
    rows = store.query("SELECT score, total FROM scores")
    reference = DEFAULT_SCORING.reference_points
    assert reference is not None
    assert all(abs(score - score_from_total(total, reference)) < 1e-9 for score, total in rows)
