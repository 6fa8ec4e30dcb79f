"""The continuous evidence of a score in words: channels above the person's own usual."""

from __future__ import annotations

import math
from datetime import date
from typing import Any

from molehunt.explain.finding import Deviation
from molehunt.features.catalog import base_feature
from molehunt.score.risk import DEFAULT_SCORING, ScoringConfig
from molehunt.store.database import Store


def deviations(
    store: Store, user: str, day: date, config: ScoringConfig = DEFAULT_SCORING
) -> list[Deviation]:
    """Return the channels whose deviation from the person's usual, or exposure, added points.

    Replays `score.risk.deviation_sql`, `sustained_sql` and `exposure_sql` per channel from
    the `features` rows of the person's last `sustained_days` active days (and, for the
    departure window, of the last `exposure_window_days` days), so the figures are those the
    score used: e.g. "removable-media connects 6; own usual 2.0 +/- 1.0 (3.1 standard units
    above); 9 of the last 10 active days above usual: +21 points today, +16 for the run, +23
    as exposure in a departure window (job-site browsing risen far above usual)".

    Args:
        store: The workspace (after `run_detection`).
        user: The person.
        day: The day.
        config: Scoring weights (as used by `run_detection`).

    Returns:
        One `Deviation` per channel that added points, most points first.
    """
    names = [name for name, _ in config.deviation_channels]
    columns = ", ".join(f"{name}, own_mean_{name}, z_own_{name}, dev_{name}" for name in names)
    rows = store.query_dicts(
        f"""SELECT day, {columns} FROM features WHERE user = ? AND day <= ?
        ORDER BY day DESC LIMIT {config.sustained_days}""",
        [user, day],
    )
    if not rows or rows[0]["day"] != day:
        return []
    exposure = (
        dict(config.exposure_channels) if _in_departure_window(store, user, day, config) else {}
    )
    found = [
        _deviation(name, weight, exposure.get(name, 0.0), rows, config)
        for name, weight in config.deviation_channels
    ]
    kept = [d for d in found if d is not None]
    return sorted(kept, key=lambda d: -(d.points + d.sustained_points + d.exposure_points))


def _in_departure_window(store: Store, user: str, day: date, config: ScoringConfig) -> bool:
    """Whether exposure counts for the person that day (`score.risk.sustained_columns_sql`)."""
    rows = store.query(
        f"""SELECT coalesce(max(z_trend_job_visits), 0) > {config.exposure_trend!r}
            OR coalesce(max(departing) FILTER (WHERE day = ?), 0) > 0
        FROM features WHERE user = ? AND day <= ?
            AND day >= CAST(? AS DATE) - INTERVAL {config.exposure_window_days - 1} DAYS""",
        [day, user, day, day],
    )
    return bool(rows and rows[0][0])


def _deviation(
    name: str,
    weight: float,
    exposure_weight: float,
    rows: list[dict[str, Any]],
    config: ScoringConfig,
) -> Deviation | None:
    """One channel's deviation over the window `rows` (newest first), None when it adds 0.

    `exposure_weight` is the channel's exposure weight when the day is in a departure
    window, else 0.
    """
    today = rows[0]
    value = today[name]
    if value is None:
        return None
    devs = [float(row[f"dev_{name}"] or 0.0) for row in rows]
    points = weight * min(
        config.deviation_cap, config.deviation_weight * max(0.0, devs[0] - config.deviation_slack)
    )
    run = sum(d - config.sustained_slack for d in devs)
    sustained = weight * min(config.deviation_cap, config.sustained_weight * max(0.0, run))
    exposure = exposure_weight * config.exposure_weight * math.log1p(max(0.0, float(value)))
    if points <= 0 and sustained <= 0 and exposure <= 0:
        return None
    above = sum(1 for d in devs if d > 0)
    definition = base_feature(name)
    text = f"{definition.doc if definition else name}: {float(value):g}"
    usual, z_own = today[f"own_mean_{name}"], today[f"z_own_{name}"]
    if usual is not None and z_own:
        spread = abs((float(value) - float(usual)) / float(z_own))
        text += f"; own usual {float(usual):.1f} +/- {spread:.1f}"
    elif usual is not None:
        text += f"; own usual {float(usual):.1f}"
    else:
        text += "; own usual not yet known (judged against peers)"
    text += f" ({devs[0]:.1f} standard units above)"
    text += f"; {above} of the last {len(rows)} active days above usual"
    added = []
    if points > 0:
        added.append(f"+{points:.0f} points today")
    if sustained > 0:
        added.append(f"+{sustained:.0f} for the run of days above usual")
    if exposure > 0:
        added.append(
            f"+{exposure:.0f} as exposure in a departure window (job-site browsing risen far "
            "above usual in recent weeks, or a departure known)"
        )
    text += ": " + ", ".join(added)
    return Deviation(
        feature=name,
        value=float(value),
        usual=None if usual is None else float(usual),
        deviation=round(devs[0], 6),
        days_above=above,
        days=len(rows),
        points=round(points, 6),
        sustained_points=round(sustained, 6),
        text=text,
        exposure_points=round(exposure, 6),
    )
