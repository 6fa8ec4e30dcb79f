"""One risk score (0-100) per active user-day: calibrated rule points, model, boosters, memory.

points_d      = sum over rules hit on d of weight * rarity / (1 + repeats)
                rarity  = max(floor, min(1, log10(people / people hit) / FULL) ** POWER), over the
                          previous RARITY_DAYS days (with a prior of 1 hit in RARITY_PRIOR people)
                repeats = days the same rule hit the same person in the previous 30 days
evidence_d    = min(points_d, 100) + model_points_d
boosted_d     = evidence_d + (booster_d - 1) * max(0, evidence_d - BOOST_FLOOR)
                (booster_d = 1 + context terms: departing, stressors, priority, travel)
evidence_total_d = sum over the last MEMORY_DAYS days d' <= d of boosted_d' * DECAY ** (d - d')
                + SLOW_WEIGHT * signs_d' * SLOW_DECAY ** (d - d')
                (signs_d = the points of d's habituating rules: first-time behaviours, surges,
                above-peer counts; not acts, not policy or sequence rules)
                + on a notice day: LOOKBACK_WEIGHT * the undecayed boosted evidence of those days
reference_d   = max(REFERENCE_FLOOR, the (1 - ALERT_RATE) quantile of every person's
                evidence_total over the previous CALIBRATION_DAYS days; during the first
                WARM_UP_DAYS, over those days and day d itself)
open case     = evidence_total >= reference (an alert) on one of the OPEN_CASE_DAYS days before d
total_d       = evidence_total_d, or for an open case: the fresh part (day d's own evidence and
                a notice lookback) + OPEN_CASE_CARRY * the evidence carried from earlier days
score_d       = 100 * (1 - 2 ** (-total_d / reference_d))

So a score of OPERATING_THRESHOLD (50) means "as much evidence as the top ALERT_RATE of the
population's recent days": the threshold is a stated alert volume on any institute, real or
simulated, and it is learned causally (only days up to d set the reference of d). A person
alerted in the last few days is an open case: the analyst already has it, so until something
new happens the carried evidence counts only in part and the day's queue goes to new evidence.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from molehunt.store.database import Transaction

OPERATING_THRESHOLD = 50.0
NOTICE_KINDS = ("resignation_notice", "termination")


@dataclass(frozen=True)
class ScoringConfig:
    """Weights of the risk score.

    Args:
        model_weight: Points for a user-day the model ranks above every training day.
        model_floor: Model percentile below which the model adds nothing.
        habituation_days: Window in which repeats of a rule for a person weaken it.
        policy_habituation: How much a repeat weakens a rule tagged `policy` or `sequence`
            compared with other rules (0: every repeat counts in full).
        act_habit_days: An act (rule tag `act`) counts in full on every occurrence while it is
            new; hits of the same act between `habituation_days` and this many days before
            weaken it (`weight / (1 + such hits)`): a pattern kept up for months is a habit
            (a reader of a leak site who works late with a drive in), a new one is not.
        rarity_days: Days of population history that set a rule's rarity.
        rarity_full: A rule hitting at most 10 ** -rarity_full of user-days counts in full.
        rarity_power: Exponent of the rarity share (2: a rule on 1% of user-days keeps 44%,
            on 10% keeps 11%).
        rarity_floor: Least share of its weight a rule keeps however common it is.
        rarity_prior: Pseudo user-days (with one pseudo hit) of a rule with no history.
        decay: Daily retention of past evidence (0.6: half-life about 1.4 days). Patterns
            that last weeks are carried by the sustained deviation, the departure window and
            the slow memory of signs, not by this memory: a long memory of everything keeps a
            person's quiet days high after any burst of evidence, and on real data ranks them
            above the days of the act.
        slow_decay: Daily retention of the slow memory (0.97: half-life about 23 days).
        slow_weight: Weight of the slow memory. It holds only the points of habituating rules
            (first-time behaviours, surges, above-peer counts: sparse signs that a slow leak
            leaves weeks apart), not acts (they count in full every time anyway) nor policy
            and sequence rules (a job search hits those every day for weeks and would keep the
            person high for months after it).
        memory_days: Days of past evidence summed.
        lookback_weight: Share of the last `memory_days` of evidence (undecayed) a resignation
            or termination notice adds on its day (the departing-user lookback).
        boost_floor: Evidence points a booster leaves unmultiplied (noise stays noise).
        alert_rate: Share of recent user-days whose total sets the score 50 reference.
        calibration_days: Days of past totals the reference is taken from.
        reference_floor: Least reference (evidence points), for quiet institutes and start-up.
        warm_up_days: While fewer past days than this exist, the day's own rule hits join
            its rarity (and, with a calibrated reference, its totals join its reference; both
            still causal), so a new deployment's first days do not alert on everyone whose
            first rule hit has no history to be rare against.
        open_case_days: A person alerted (evidence total at or above the reference) on one of
            this many previous days is an open case.
        open_case_carry: Share of the carried (earlier days') evidence an open case's score
            keeps; the day's own evidence and a notice lookback count in full.
        boosters: Context column -> added multiplier when true / positive.
        rule_cap: Most rule points one user-day adds.
        reference_points: The evidence total that scores 50 on every day (None: the day's
            calibrated reference, `alert_rate` etc.). A fixed reference keeps scores comparable
            across days: the same score means the same evidence on any day, whoever else was
            active (a calibrated reference rises when several people in a small population
            are insiders at once, and hides them).
        deviation_weight: Points per standard unit a channel lies above the person's usual
            beyond `deviation_slack` (features `dev_*`): moderate deviations add evidence in
            proportion, and the sustained deviation adds up weeks of them.
        deviation_slack: Standard units above the usual that add nothing on the day itself
            (ordinary day-to-day variation; moderate deviations count through the sustained
            window instead).
        deviation_cap: Most points one channel's deviation adds on a day.
        deviation_channels: Feature -> weight of its deviation: the channels that carry
            exfiltration and its run-up.
        sustained_days: Active days (this one included) a sustained deviation sums over.
        sustained_slack: Standard units a day's deviation must exceed to add to a sustained
            one (a CUSUM's reference value): days at the usual subtract it, so ordinary
            variation sums to nothing and weeks at two or three times the usual add up. 0.75
            lies halfway between the mean deviation of an unchanged habit (a standard normal
            clipped at 0: 0.4) and of a habit risen by one standard unit (1.08), the CUSUM
            reference for detecting a one-unit shift.
        sustained_weight: Points per standard unit of sustained deviation (per channel
            weight, at most `deviation_cap`).
        exposure_weight: Points per unit of ln(1 + the day's count) on an exposure channel,
            during a departure window only: while the person's job-site browsing has risen
            far above their own usual (`z_trend_job_visits` above `exposure_trend` on some day
            of the last `exposure_window_days`) or a departure is known (`departing`). Then
            every drive connect and job-site visit is exposure, whatever the person's usual
            (most thefts of intellectual property happen in the weeks before a departure): a
            day with six connects and twenty job-site visits adds 9 x (1.5 x 1.9 + 0.5 x 3.0)
            = 40 points, half the 80 that score 50. Counted on its own day only,
            like a sustained deviation, so a habit does not pile up in the memory; outside a
            departure window it adds nothing, so habitual drive users and job-site browsers
            stay quiet.
        exposure_channels: Feature -> weight of its exposure: a drive connect is the means
            of taking data out, a job-site visit only shows the intent, so connects weigh
            three times as much.
        exposure_trend: Rise of job-site browsing (standard units, `z_trend_job_visits`) that
            opens a departure window.
        exposure_window_days: Days a departure window stays open after the rise.
    """

    model_weight: float = 20.0
    model_floor: float = 0.995
    habituation_days: int = 30
    policy_habituation: float = 0.25
    act_habit_days: int = 120
    rarity_days: int = 60
    rarity_full: float = 3.0
    rarity_power: float = 2.0
    rarity_floor: float = 0.05
    rarity_prior: float = 1000.0
    decay: float = 0.6
    slow_decay: float = 0.97
    slow_weight: float = 0.1
    memory_days: int = 90
    lookback_weight: float = 1.0
    boost_floor: float = 10.0
    alert_rate: float = 0.002
    calibration_days: int = 60
    reference_floor: float = 35.0
    warm_up_days: int = 14
    open_case_days: int = 3
    open_case_carry: float = 0.25
    boosters: tuple[tuple[str, float], ...] = (
        ("departing", 0.5),
        ("stressors", 0.25),
        ("priority_user", 0.25),
        ("undeclared_travel", 0.25),
    )
    rule_cap: float = 150.0
    reference_points: float | None = 80.0
    deviation_weight: float = 7.0
    deviation_slack: float = 2.0
    deviation_cap: float = 40.0
    sustained_days: int = 10
    sustained_slack: float = 0.75
    sustained_weight: float = 5.0
    deviation_channels: tuple[tuple[str, float], ...] = (
        ("usb_connects", 1.0),
        ("after_hours_usb_connects", 1.0),
        ("files_to_removable", 0.5),
        ("after_hours_logons", 1.0),
        ("job_visits", 1.0),
        ("emails_to_job_sites", 1.0),
        ("leak_visits", 1.0),
        ("hacking_visits", 1.0),
        ("cloud_uploads", 1.0),
        ("filesharing_visits", 1.0),
        ("attachments_personal", 1.0),
    )
    exposure_weight: float = 9.0
    exposure_channels: tuple[tuple[str, float], ...] = (
        ("usb_connects", 1.5),
        ("job_visits", 0.5),
    )
    exposure_trend: float = 3.0
    exposure_window_days: int = 60


DEFAULT_SCORING = ScoringConfig()


def _low(since: date | None) -> str:
    return "DATE '1900-01-01'" if since is None else f"DATE '{since.isoformat()}'"


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


def _channel_points_sql(config: ScoringConfig, per_unit: float, excess: str) -> str:
    """Sum over the deviation channels of weight x min(cap, per_unit x max(0, excess)).

    `excess` is a SQL template with `{name}` for the channel's feature.
    """
    terms = [
        f"{weight!r} * least({config.deviation_cap!r}, {per_unit!r} * "
        f"greatest(0, {excess.format(name=name)}))"
        for name, weight in config.deviation_channels
    ]
    return "(" + " + ".join(terms or ["0"]) + ")"


def deviation_sql(config: ScoringConfig) -> str:
    """Return the SQL deviation points of a user-day over `features f`.

    Each channel adds `deviation_weight` points per standard unit above the person's usual
    beyond `deviation_slack`, times its weight, at most `deviation_cap`.

    Args:
        config: Scoring weights.

    Returns:
        SQL expression >= 0.
    """
    excess = f"coalesce(f.dev_{{name}}, 0) - {config.deviation_slack!r}"
    return _channel_points_sql(config, config.deviation_weight, excess)


def sustained_sql(config: ScoringConfig) -> str:
    """Return the SQL sustained-deviation points of a user-day over `features f`.

    Per channel, the sum over the person's last `sustained_days` active days of (deviation -
    `sustained_slack`), floored at 0: a windowed CUSUM. Days at the usual count -slack, so
    the sum stays at 0 for ordinary variation and grows when most recent days are above the
    usual, however moderately. The window columns `sus_<feature>` are computed by
    `sustained_columns_sql`.

    Args:
        config: Scoring weights.

    Returns:
        SQL expression >= 0.
    """
    return _channel_points_sql(config, config.sustained_weight, "coalesce(f.sus_{name}, 0)")


def exposure_sql(config: ScoringConfig) -> str:
    """Return the SQL exposure points of a user-day over `features f`.

    In a departure window (`f.departure_window`, from `sustained_columns_sql`), per exposure
    channel `exposure_weight` x weight x ln(1 + the day's count); 0 outside one.

    Args:
        config: Scoring weights.

    Returns:
        SQL expression >= 0.
    """
    terms = [
        f"{weight * config.exposure_weight!r} * ln(1 + greatest(0, coalesce(f.{name}, 0)))"
        for name, weight in config.exposure_channels
    ]
    return f"(CASE WHEN f.departure_window THEN {' + '.join(terms or ['0'])} ELSE 0 END)"


def sustained_columns_sql(config: ScoringConfig) -> str:
    """Return the window columns over `features`: `sus_<feature>` and `departure_window`.

    `sus_<feature>` is a channel's windowed CUSUM (see `sustained_sql`); `departure_window`
    whether exposure counts (see `exposure_sql` and `ScoringConfig.exposure_weight`).

    Args:
        config: Scoring weights.

    Returns:
        SQL select-list text (starting with a comma) for a query over `features`.
    """
    window = (
        f", coalesce(max(z_trend_job_visits) OVER (PARTITION BY user ORDER BY day RANGE BETWEEN "
        f"INTERVAL {config.exposure_window_days - 1} DAYS PRECEDING AND CURRENT ROW), 0) > "
        f"{config.exposure_trend!r} OR coalesce(departing, 0) > 0 AS departure_window"
    )
    return window + "".join(
        f", sum(coalesce(dev_{name}, 0) - {config.sustained_slack!r}) OVER (PARTITION BY user "
        f"ORDER BY day ROWS BETWEEN {config.sustained_days - 1} PRECEDING AND CURRENT ROW) "
        f"AS sus_{name}"
        for name, _ in config.deviation_channels
    )


def rarity_sql(since: date | None, config: ScoringConfig) -> str:
    """Return (rule_id, day, rarity): how rare each rule was in the population before the day.

    The past rate of a rule on day d is the share of people it hit among the people active
    in the previous `rarity_days` days (with `rarity_prior` pseudo people holding one pseudo
    hit, so a rule with no history counts in full). Counting people, not user-days, keeps one
    heavy violator from cheapening a rule for everyone else. Only days before d are used, and
    during a new workspace's first `warm_up_days` days also day d itself (known at its end, so
    still causal): without it every first rule hit of the first day counts in full and a new
    deployment alerts on everybody whose habits happen to match a rule.

    Args:
        since: Last day already scored.
        config: Scoring weights.

    Returns:
        SQL text over `rule_hits` and `features`.
    """
    low = _low(since)
    window = (
        f"(x.day < d.day OR (d.prior < {config.warm_up_days} AND x.day = d.day)) "
        f"AND x.day >= d.day - INTERVAL {config.rarity_days} DAYS"
    )
    return f"""
        WITH needed AS (SELECT DISTINCT rule_id, day FROM rule_hits WHERE day > {low}),
        days AS (
            SELECT n.day, (SELECT count(DISTINCT f.day) FROM features f WHERE f.day < n.day
                AND f.day >= n.day - INTERVAL {config.rarity_days} DAYS) AS prior
            FROM (SELECT DISTINCT day FROM needed) n),
        population AS (
            SELECT d.day, count(DISTINCT x.user) AS people
            FROM days d LEFT JOIN features x ON {window} GROUP BY d.day),
        hit AS (
            SELECT d.day, x.rule_id, count(DISTINCT x.user) AS people
            FROM days d JOIN rule_hits x ON {window} GROUP BY ALL)
        SELECT n.rule_id, n.day, greatest({config.rarity_floor!r}, pow(least(1.0,
            log10((p.people + {config.rarity_prior!r}) / (coalesce(h.people, 0) + 1.0))
            / {config.rarity_full!r}), {config.rarity_power!r})) AS rarity
        FROM needed n JOIN population p USING (day)
        LEFT JOIN hit h ON h.day = n.day AND h.rule_id = n.rule_id"""


def habituated_points_sql(since: date | None, config: ScoringConfig) -> str:
    """Return (user, day, points): rule weights times rarity, each divided by 1 + repeats.

    A rule that already hit the same person on k of the previous `habituation_days` days
    adds weight * rarity / (1 + k): a habit stops piling up risk, a new behaviour counts in
    full, and a rule common in the population counts little. Policy and sequence rules (tags
    `policy`, `sequence`: need-to-know, job search under way) habituate `policy_habituation`
    times as fast: violations and sequence steps keep counting. Acts (tag `act`) count their
    whole weight every time they recur within `habituation_days` and however many people do
    them; only hits older than that (up to `act_habit_days`) weaken them, so months of the
    same act become a habit while a new run of acts never buries itself.

    Args:
        since: Last day already scored.
        config: Scoring weights.

    Returns:
        SQL text over `rule_hits` and `features`.
    """
    low = _low(since)
    return f"""
        SELECT h.user, h.day, sum(CASE WHEN h.act THEN h.weight / (1 + h.habit)
            ELSE h.weight * r.rarity
            / (1 + h.repeats * CASE WHEN h.habituates THEN 1 ELSE {config.policy_habituation!r}
            END) END) AS points,
            sum(CASE WHEN h.habituates AND NOT h.act THEN h.weight * r.rarity / (1 + h.repeats)
                ELSE 0 END) AS sign_points
        FROM (
            SELECT user, day, rule_id, weight, habituates, act, count(*) OVER (
                PARTITION BY user, rule_id ORDER BY day RANGE BETWEEN
                INTERVAL {config.habituation_days} DAYS PRECEDING AND INTERVAL 1 DAYS PRECEDING)
                AS repeats,
                count(*) OVER (
                PARTITION BY user, rule_id ORDER BY day RANGE BETWEEN
                INTERVAL {config.act_habit_days} DAYS PRECEDING
                AND INTERVAL {config.habituation_days} DAYS PRECEDING) AS habit
            FROM rule_hits WHERE day > {low} - INTERVAL {config.act_habit_days} DAYS) h
        JOIN ({rarity_sql(since, config)}) r ON r.rule_id = h.rule_id AND r.day = h.day
        WHERE h.day > {low} GROUP BY ALL"""


def notice_sql(hr_events: bool) -> str:
    """Return the SQL flag "a notice became known since the person's previous active day".

    A notice given on a day without activity (a weekend) counts on the next active day.

    Args:
        hr_events: Whether an `hr_events` table exists (else only `notice_today` is read).

    Returns:
        SQL boolean over `features f` with `f.previous_day`.
    """
    if not hr_events:
        return "coalesce(f.notice_today, 0) > 0"
    return f"""(coalesce(f.notice_today, 0) > 0 OR EXISTS (
        SELECT 1 FROM hr_events n WHERE n.user_id = f.user AND n.kind IN {NOTICE_KINDS}
            AND n.day <= f.day AND n.day > coalesce(f.previous_day, f.day - 1)))"""


def _window_rows_sql(since: date | None, config: ScoringConfig) -> str:
    """Return the condition on `features` rows the windows of the new days read.

    The windows of `sustained_columns_sql` and the previous active day reach back at most
    `sustained_days` rows or `exposure_window_days` days from the first new day, and never
    more than 400 days: older rows of the 400 are left out, so a one-day run reads some
    thousands of rows instead of a year of everybody's.
    """
    low = _low(since)
    return f"""day > {low} - INTERVAL 400 DAYS AND (
            day > {low} - INTERVAL {config.exposure_window_days} DAYS OR (user, day) IN (
                SELECT user, day FROM features
                WHERE day > {low} - INTERVAL 400 DAYS AND day <= {low}
                QUALIFY row_number() OVER (PARTITION BY user ORDER BY day DESC)
                    <= {config.sustained_days}))"""


def daily_evidence_sql(
    since: date | None, until: date, config: ScoringConfig, hr_events: bool = False
) -> str:
    """Return a query of the day's evidence per user-day, its parts and `sign_score`.

    `sign_score` is the part the slow memory keeps (`ScoringConfig.slow_weight`).

    Args:
        since: Last day already scored.
        until: Last day to score.
        config: Scoring weights.
        hr_events: Whether `hr_events` exists (notices on inactive days count next day).

    Returns:
        SQL text over `features`, `rule_hits` and `model_scores`.
    """
    model_points = (
        f"{config.model_weight!r} * greatest(0, "
        f"(coalesce(m.model_score, 0) - {config.model_floor!r})"
        f" / {1 - config.model_floor!r})"
    )
    return f"""
    SELECT f.user, f.day,
        round(least(coalesce(h.points, 0), {config.rule_cap!r}), 9) AS rule_score,
        coalesce(m.model_score, 0) AS model_score,
        {booster_sql(config)} AS booster,
        round(least(coalesce(h.points, 0), {config.rule_cap!r}), 9) + {model_points}
            + round({deviation_sql(config)} + {sustained_sql(config)}
                + {exposure_sql(config)}, 9) AS evidence,
        round({deviation_sql(config)}, 9) AS deviation_score,
        round({sustained_sql(config)}, 9) AS sustained_score,
        round({exposure_sql(config)}, 9) AS exposure_score,
        {notice_sql(hr_events)} AS notice,
        round(least(coalesce(h.sign_points, 0), {config.rule_cap!r}), 9) AS sign_score
    FROM (SELECT *, lag(day) OVER (PARTITION BY user ORDER BY day) AS previous_day
            {sustained_columns_sql(config)}
        FROM features WHERE {_window_rows_sql(since, config)}) f
    LEFT JOIN ({habituated_points_sql(since, config)}) h
        ON h.user = f.user AND h.day = f.day
    LEFT JOIN model_scores m ON m.user = f.user AND m.day = f.day
    WHERE f.day > {_low(since)} AND f.day <= DATE '{until.isoformat()}'"""


def accumulated_sql(
    since: date | None,
    until: date,
    config: ScoringConfig,
    without: str | None = None,
    user: str | None = None,
) -> str:
    """Return (user, day, total, fresh, rule_score, model_score, booster) for the new days.

    Totals are rounded to 9 decimals: a sum's last bits depend on the order DuckDB adds its
    rows in, and equal totals must rank the same way in every run (causality tests compare
    ranks).

    `total` is the evidence total; `fresh` its part not carried from earlier days (the day's
    own boosted evidence and, on a notice day, the lookback).

    A booster multiplies only the part of a day's evidence above `boost_floor`, so context
    (stressors, departing, priority) amplifies material evidence and never turns noise into
    an alert.

    Args:
        since: Last day already scored.
        until: Last day to score.
        config: Scoring weights.
        without: A booster left out (counterfactuals: the totals had it been absent).
        user: Only this person (explanations).

    Returns:
        SQL text over `daily_evidence` (the new days already inserted) and, with `without`,
        `features`.
    """
    booster = "e.booster" if without is None else booster_sql(config, without)
    join = "" if without is None else "JOIN features f ON f.user = e.user AND f.day = e.day"
    only = "" if user is None else f"AND e.user = '{user.replace(chr(39), chr(39) * 2)}'"
    age = "datediff('day', p.day, t.day)"
    # A sustained deviation already sums the recent days, and exposure is a level, not an
    # event: the memory carries neither (a habit would pile up in it).
    return f"""
        WITH today AS (
            SELECT * FROM daily_evidence e
            WHERE day > {_low(since)} AND day <= DATE '{until.isoformat()}' {only}),
        past AS (
            SELECT e.user, e.day, e.evidence - e.sustained_score - e.exposure_score
                + ({booster} - 1) * greatest(0, e.evidence - e.sustained_score - e.exposure_score
                    - {config.boost_floor!r}) AS boosted, e.sign_score
            FROM daily_evidence e {join} WHERE e.evidence > 0 {only}),
        summed AS (
            SELECT t.user, t.day,
                coalesce(sum(p.boosted * pow({config.decay!r}, {age}) + {config.slow_weight!r}
                    * p.sign_score * pow({config.slow_decay!r}, {age})), 0) AS decayed,
                coalesce(sum(p.boosted), 0) AS undecayed,
                coalesce(sum(p.boosted + {config.slow_weight!r} * p.sign_score)
                    FILTER (WHERE p.day = t.day), 0) AS own
            FROM today t LEFT JOIN past p ON p.user = t.user AND p.day <= t.day
                AND p.day > t.day - INTERVAL {config.memory_days} DAY
            GROUP BY ALL)
        SELECT t.user, t.day,
            round(s.decayed + t.sustained_score + t.exposure_score + CASE WHEN t.notice
                THEN {config.lookback_weight!r} * s.undecayed ELSE 0 END, 9) AS total,
            round(s.own + t.sustained_score + t.exposure_score + CASE WHEN t.notice
                THEN {config.lookback_weight!r} * s.undecayed ELSE 0 END, 9) AS fresh,
            t.rule_score, t.model_score,
            CASE WHEN t.evidence > {config.boost_floor!r} THEN t.booster ELSE 1 END AS booster
        FROM today t JOIN summed s ON s.user = t.user AND s.day = t.day"""


def reference_sql(since: date | None, config: ScoringConfig) -> str:
    """Return (day, reference) for the new days in `new_totals`: the calibrated score-50 total.

    Args:
        since: Last day already scored.
        config: Scoring weights.

    Returns:
        SQL text over `scores` (earlier days) and `new_totals`.
    """
    quantile = 1 - config.alert_rate
    if config.reference_points is not None:
        return f"""
            SELECT DISTINCT day, {config.reference_points!r}::DOUBLE AS reference FROM new_totals"""
    return f"""
        WITH recent AS (
            SELECT day, evidence_total AS total FROM scores
            WHERE day > {_low(since)} - INTERVAL {config.calibration_days + 1} DAYS
            UNION ALL SELECT day, total FROM new_totals)
        , known AS (SELECT DISTINCT day FROM recent),
        days AS (
            SELECT n.day, (SELECT count(*) FROM known k WHERE k.day < n.day
                AND k.day >= n.day - INTERVAL {config.calibration_days} DAYS) AS prior
            FROM (SELECT DISTINCT day FROM new_totals) n)
        SELECT d.day, greatest({config.reference_floor!r},
            coalesce(quantile_cont(r.total, {quantile!r}), 0)) AS reference
        FROM days d
        LEFT JOIN recent r ON (r.day < d.day OR (d.prior < {config.warm_up_days} AND r.day = d.day))
            AND r.day >= d.day - INTERVAL {config.calibration_days} DAYS
        GROUP BY d.day"""


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
    tables = {str(row[0]) for row in connection.execute("SELECT table_name FROM duckdb_tables()")}
    evidence = daily_evidence_sql(since, until, config, "hr_events" in tables)
    if "daily_evidence" not in tables:  # (planning the query twice costs)
        connection.execute(f"CREATE TABLE daily_evidence AS {evidence} LIMIT 0")
    connection.execute(f"INSERT INTO daily_evidence {evidence}")
    connection.execute(
        f"CREATE OR REPLACE TEMP TABLE new_totals AS {accumulated_sql(since, until, config)}"
    )
    connection.execute(
        "CREATE TABLE IF NOT EXISTS score_reference (day DATE PRIMARY KEY, reference DOUBLE)"
    )
    connection.execute(f"INSERT INTO score_reference {reference_sql(since, config)}")
    added = connection.execute(
        f"""INSERT INTO scores
        WITH alerts AS (
            SELECT s.user, s.day FROM scores s JOIN score_reference r USING (day)
            WHERE s.day > {_low(since)} - INTERVAL {config.open_case_days} DAY
                AND s.evidence_total >= r.reference
            UNION ALL
            SELECT n.user, n.day FROM new_totals n JOIN score_reference r USING (day)
            WHERE n.total >= r.reference),
        flagged AS (
            SELECT n.*, r.reference, EXISTS (
                SELECT 1 FROM alerts a WHERE a.user = n.user AND a.day < n.day
                    AND a.day >= n.day - INTERVAL {config.open_case_days} DAY) AS open_case
            FROM new_totals n JOIN score_reference r USING (day)
            WHERE n.day > {_low(since)}),
        scored AS (
            SELECT *, {open_case_total_sql(config)} AS priority FROM flagged)
        SELECT user, day, 100 * (1 - pow(2, -priority / reference)) AS score,
            CAST(row_number() OVER (PARTITION BY day ORDER BY priority DESC, user) AS INTEGER),
            rule_score, model_score, booster, priority, total, open_case
        FROM scored"""
    )
    connection.execute("DROP TABLE new_totals")
    return int(added[0][0]) if added else 0


def open_case_total_sql(config: ScoringConfig) -> str:
    """Return the SQL total a score is computed from, over `total`, `fresh` and `open_case`.

    Args:
        config: Scoring weights.

    Returns:
        SQL expression: `total`, or for an open case the fresh part plus `open_case_carry`
        times the carried part.
    """
    carry = config.open_case_carry
    return f"CASE WHEN open_case THEN fresh + {carry!r} * greatest(0, total - fresh) ELSE total END"


def score_from_total(total: float, reference: float) -> float:
    """Return the 0-100 score of an evidence total against a day's reference.

    Args:
        total: Accumulated boosted evidence.
        reference: The day's calibrated score-50 total (`score_reference`).

    Returns:
        The score.
    """
    return float(100.0 * (1.0 - 2.0 ** (-total / reference)))
