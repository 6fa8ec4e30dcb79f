"""One risk score (0-100) per active user-day: rule hits + model + context boosters + decay.

evidence_d    = min(sum of habituated rule weights hit on d, 100) + model_points_d
model_points  = MODEL_WEIGHT * max(0, (model_score - MODEL_FLOOR) / (1 - MODEL_FLOOR))
boosted_d     = evidence_d * booster_d   (booster_d = 1 + context terms, only if evidence_d > 0)
accumulated_d = sum over the last MEMORY_DAYS days d' <= d of boosted_d' * DECAY ** (d - d')
score_d       = 100 * (1 - exp(-accumulated_d / SCALE))
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from molehunt.store.database import Transaction


@dataclass(frozen=True)
class ScoringConfig:
    """Weights of the risk score.

    Args:
        model_weight: Points for a user-day the model ranks above every training day.
        model_floor: Model percentile below which the model adds nothing.
        habituation_days: Window in which repeats of a rule for a person weaken it.
        decay: Daily retention of past evidence (0.9: half-life about 6.6 days).
        memory_days: Days of past evidence summed.
        scale: Evidence points that give a score of 63.
        boosters: Context column -> added multiplier when true / positive.
    """

    model_weight: float = 20.0
    model_floor: float = 0.995
    habituation_days: int = 30
    decay: float = 0.9
    memory_days: int = 90
    scale: float = 50.0
    boosters: tuple[tuple[str, float], ...] = (
        ("departing", 0.5),
        ("stressors", 0.25),
        ("priority_user", 0.25),
        ("undeclared_travel", 0.25),
    )


DEFAULT_SCORING = ScoringConfig()


def booster_sql(config: ScoringConfig, without: str | None = None) -> str:
    """Return the SQL multiplier of the context boosters over `features` columns.

    Args:
        config: Scoring weights.
        without: A booster left out (for counterfactual explanations).

    Returns:
        SQL expression >= 1.
    """
    terms = [
        f"CASE WHEN coalesce(f.{name}, 0) > 0 THEN {weight!r} ELSE 0 END"
        for name, weight in config.boosters
        if name != without
    ]
    return "(1 + " + " + ".join(terms or ["0"]) + ")"


def habituated_points_sql(since: date | None, config: ScoringConfig) -> str:
    """Return (user, day, points): rule weights, each divided by 1 + its recent repeats.

    A rule that already hit the same person on k of the previous `habituation_days` days
    adds weight / (1 + k): a habit stops piling up risk, a new behaviour counts in full.

    Args:
        since: Last day already scored.
        config: Scoring weights.

    Returns:
        SQL text over `rule_hits`.
    """
    low = "DATE '1900-01-01'" if since is None else f"DATE '{since.isoformat()}'"
    return f"""
        SELECT user, day, sum(weight / (1 + repeats)) AS points FROM (
            SELECT user, day, weight, count(*) OVER (
                PARTITION BY user, rule_id ORDER BY day RANGE BETWEEN
                INTERVAL {config.habituation_days} DAYS PRECEDING AND INTERVAL 1 DAYS PRECEDING)
                AS repeats
            FROM rule_hits WHERE day > {low} - INTERVAL {config.habituation_days} DAYS)
        WHERE day > {low} GROUP BY ALL"""


def daily_evidence_sql(since: date | None, until: date, config: ScoringConfig) -> str:
    """Return a query of (user, day, rule_score, model_score, booster, evidence) for new days.

    Args:
        since: Last day already scored.
        until: Last day to score.
        config: Scoring weights.

    Returns:
        SQL text over `features`, `rule_hits` and `model_scores`.
    """
    low = "DATE '1900-01-01'" if since is None else f"DATE '{since.isoformat()}'"
    model_points = (
        f"{config.model_weight!r} * greatest(0, "
        f"(coalesce(m.model_score, 0) - {config.model_floor!r})"
        f" / {1 - config.model_floor!r})"
    )
    return f"""
    SELECT f.user, f.day,
        least(coalesce(h.points, 0), 100) AS rule_score,
        coalesce(m.model_score, 0) AS model_score,
        {booster_sql(config)} AS booster,
        least(coalesce(h.points, 0), 100) + {model_points} AS evidence
    FROM features f
    LEFT JOIN ({habituated_points_sql(since, config)}) h
        ON h.user = f.user AND h.day = f.day
    LEFT JOIN model_scores m ON m.user = f.user AND m.day = f.day
    WHERE f.day > {low} AND f.day <= DATE '{until.isoformat()}'"""


def compute_scores(
    connection: Transaction,
    since: date | None,
    until: date,
    config: ScoringConfig = DEFAULT_SCORING,
) -> int:
    """Add `daily_evidence` and `scores` rows for the user-days of (since, until].

    Args:
        connection: An open transaction (features, rule hits and model scores written).
        since: Last day already scored.
        until: Last day to score.
        config: Scoring weights.

    Returns:
        The number of scored user-days.
    """
    connection.execute(
        f"CREATE TABLE IF NOT EXISTS daily_evidence AS "
        f"{daily_evidence_sql(since, until, config)} LIMIT 0"
    )
    connection.execute(f"INSERT INTO daily_evidence {daily_evidence_sql(since, until, config)}")
    low = "DATE '1900-01-01'" if since is None else f"DATE '{since.isoformat()}'"
    added = connection.execute(
        f"""INSERT INTO scores
        WITH today AS (
            SELECT * FROM daily_evidence
            WHERE day > {low} AND day <= DATE '{until.isoformat()}'),
        past AS (
            SELECT user, day, evidence * CASE WHEN evidence > 0 THEN booster ELSE 1 END AS boosted
            FROM daily_evidence WHERE evidence > 0),
        accumulated AS (
            SELECT t.user, t.day,
                coalesce(sum(p.boosted * pow({config.decay!r}, datediff('day', p.day, t.day))), 0)
                    AS total
            FROM today t LEFT JOIN past p ON p.user = t.user AND p.day <= t.day
                AND p.day > t.day - INTERVAL {config.memory_days} DAY
            GROUP BY ALL),
        scored AS (
            SELECT t.user, t.day, 100 * (1 - exp(-a.total / {config.scale!r})) AS score,
                t.rule_score, t.model_score,
                CASE WHEN t.evidence > 0 THEN t.booster ELSE 1 END AS booster
            FROM today t JOIN accumulated a ON a.user = t.user AND a.day = t.day)
        SELECT user, day, score,
            CAST(row_number() OVER (PARTITION BY day ORDER BY score DESC, user) AS INTEGER),
            rule_score, model_score, booster
        FROM scored"""
    )
    return int(added[0][0]) if added else 0
