"""Detection quality on simulated institutes (and the alert volume on the real CERT r4.2 sample).

    python bench/quality.py --users 300 --days 200 --seeds 11 12 --scenarios-each 3
        [--workdir /tmp/molehunt-quality] [--r42 ../shared/data/cert/r4.2-sample | --no-r42]

Each seed is simulated into WORKDIR (reused when already there) with every scenario planted
N times, ingested (CERT + context), detected and evaluated. One table per seed, then the pooled
table: per scenario the insiders detected within the operating budget (5 per 1,000),
departing-classified-theft insiders detected before their last working day, the best rank on
the first active day on or after the notice, need-to-know insiders flagged within 2 days of
the first violation, user-day ROC-AUC, median and worst delay; innocents flagged per 1,000 per
day at the operating threshold and innocents put in the daily budget by the stressor booster.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

from molehunt.context import ingest_context
from molehunt.evaluate import evaluate
from molehunt.evaluate.metrics import OPERATING_BUDGET
from molehunt.ingest import ingest_cert
from molehunt.score import run_detection
from molehunt.score.risk import (
    DEFAULT_SCORING,
    OPERATING_THRESHOLD,
    accumulated_sql,
    open_case_total_sql,
)
from molehunt.simulate import SCENARIOS, SimulationConfig, simulate
from molehunt.store import Store

NEED_TO_KNOW_DAYS = 2
BUDGET = f"greatest(1, floor({OPERATING_BUDGET} * active / 1000.0 + 0.5))"
RANKED = """(SELECT *, count(*) OVER (PARTITION BY day) AS active FROM scores) s"""


def prepare(work: Path, users: int, days: int, seed: int, each: int) -> Path:
    """Simulate (unless present), ingest and detect one seed; return the workspace."""
    folder = work / f"sim-{users}x{days}-s{seed}-n{each}"
    if not (folder / "answers" / "insiders.csv").exists():
        scenarios = tuple((name, each) for name in SCENARIOS)
        simulate(SimulationConfig(folder, users, days, seed=seed, scenarios=scenarios, force=True))
    workspace = folder / "ws"
    with Store.open(workspace) as store:
        ingest_cert(store, folder)
        ingest_context(store, folder / "context")
        run_detection(store)
    return workspace


def departing_checks(store: Store, user: str) -> tuple[bool | None, int | None]:
    """Return (flagged at the budget before the last working day, rank on the notice day)."""
    rows = store.query(
        f"""WITH hr AS (
            SELECT min(day) FILTER (WHERE kind IN ('resignation_notice', 'termination')) AS notice,
                max(coalesce(last_day, day)) FILTER (WHERE kind = 'last_working_day'
                    OR last_day IS NOT NULL) AS last_day
            FROM hr_events WHERE user_id = ?1)
        SELECT bool_or(s.rank <= {BUDGET} AND s.day < hr.last_day),
            min(s.rank) FILTER (WHERE s.day = (SELECT min(day) FROM scores
                WHERE user = ?1 AND day >= hr.notice))
        FROM {RANKED}, hr WHERE s.user = ?1""",
        [user],
    )
    return rows[0][0], rows[0][1]


def need_to_know_check(store: Store, user: str) -> bool:
    """Return whether the person was flagged within 2 days of the first violation."""
    rows = store.query(
        f"""WITH first AS (SELECT min(day) AS day FROM features WHERE user = ?1
            AND (need_to_know_violations > 0 OR above_clearance > 0))
        SELECT coalesce(bool_or(s.rank <= {BUDGET}), false) FROM {RANKED}, first
        WHERE s.user = ?1 AND s.day BETWEEN first.day AND first.day + {NEED_TO_KNOW_DAYS}""",
        [user],
    )
    return bool(rows[0][0])


def stressor_flags(store: Store, insiders: list[str]) -> tuple[int, int]:
    """Innocent user-days in the daily budget because of the stressor booster.

    Returns:
        (days with no rule hit in the previous 90 days, so stressors alone; days whose rank
        without the stressor booster would be outside the budget, the person having
        behavioural evidence the stressors amplified).
    """
    last = store.query("SELECT max(day) FROM scores")[0][0]
    without = accumulated_sql(None, last, DEFAULT_SCORING, without="stressors")
    rows = store.query(
        f"""WITH base AS (
            SELECT s.user, s.day, s.rank, f.stressors, count(*) OVER (PARTITION BY s.day) AS active,
                rank() OVER (PARTITION BY s.day ORDER BY w.unstressed DESC) AS unstressed_rank
            FROM scores s JOIN (
                SELECT user, day, {open_case_total_sql(DEFAULT_SCORING)} AS unstressed
                FROM (SELECT x.*, o.open_case FROM ({without}) x JOIN scores o USING (user, day))
            ) w
                USING (user, day) JOIN features f USING (user, day)),
        flagged AS (
            SELECT * FROM base WHERE rank <= {BUDGET} AND stressors > 0
                AND NOT list_contains(?, user))
        SELECT count(*) FILTER (WHERE NOT EXISTS (SELECT 1 FROM rule_hits h
                WHERE h.user = flagged.user AND h.day <= flagged.day
                AND h.day > flagged.day - INTERVAL 90 DAY)),
            count(*) FILTER (WHERE unstressed_rank > {BUDGET})
        FROM flagged""",
        [insiders],
    )
    return int(rows[0][0]), int(rows[0][1])


def seed_result(workspace: Path) -> dict[str, Any]:
    """Evaluate one workspace and add the departing, need-to-know and alert-volume checks."""
    with Store.open(workspace, read_only=True) as store:
        evaluation = evaluate(store, workspace.parent / "answers")
        insiders = [i.user for i in evaluation.insiders]
        extra: dict[str, dict[str, Any]] = {}
        for result in evaluation.insiders:
            if result.scenario == "departing-classified-theft":
                before, notice_rank = departing_checks(store, result.user)
                extra[result.user] = {"before_last_day": before, "notice_rank": notice_rank}
            elif result.scenario == "need-to-know":
                extra[result.user] = {"within_2_days": need_to_know_check(store, result.user)}
        innocents = store.query(
            f"""SELECT avg(n * 1000.0 / active) FROM (SELECT day, count(*) AS active,
                count(*) FILTER (WHERE score >= {OPERATING_THRESHOLD}
                    AND NOT list_contains(?, user)) AS n FROM scores GROUP BY day)""",
            [insiders],
        )[0][0]
        stressed = stressor_flags(store, insiders)
    return {
        "evaluation": evaluation,
        "extra": extra,
        "innocents": float(innocents),
        "stressor_flags": stressed,
    }


def _cell(values: list[Any]) -> str:
    known = [v for v in values if v is not None]
    return f"{sum(bool(v) for v in known)}/{len(values)}"


def table(results: list[dict[str, Any]]) -> str:
    """Render one seed's (or the pooled) results as a text table."""
    by: dict[str, list[Any]] = defaultdict(list)
    aucs: dict[str, list[float]] = defaultdict(list)
    for result in results:
        for insider in result["evaluation"].insiders:
            by[insider.scenario].append(insider)
            by["all"].append(insider)
        for scenario in (*result["evaluation"].scenarios, result["evaluation"].overall):
            if scenario.roc_auc is not None:
                aucs[scenario.scenario].append(scenario.roc_auc)
    extra = {u: e for r in results for u, e in r["extra"].items()}
    lines = [
        f"{'scenario':28} {'insiders':>8} {'5/1000':>7} {'before last day':>15} "
        f"{'notice rank':>11} {'ntk <=2d':>8} {'ROC-AUC':>7} {'median delay':>12} {'worst':>5}"
    ]
    for name in sorted(by, key=lambda n: (n == "all", n)):
        group = by[name]
        delays = [i.delay_days for i in group if i.delay_days is not None]
        info = [extra.get(i.user, {}) for i in group]
        ranks = [e["notice_rank"] for e in info if "notice_rank" in e]
        before = [e["before_last_day"] for e in info if "before_last_day" in e]
        ntk = [e["within_2_days"] for e in info if "within_2_days" in e]
        lines.append(
            f"{name:28} {len(group):>8} "
            f"{_cell([i.detected_at_budget[OPERATING_BUDGET] for i in group]):>7} "
            f"{_cell(before) if ranks else '-':>15} "
            f"{'/'.join(str(r) if r is not None else '-' for r in ranks) or '-':>11} "
            f"{_cell(ntk) if ntk else '-':>8} "
            f"{statistics.mean(aucs[name]) if aucs[name] else float('nan'):>7.3f} "
            f"{statistics.median(delays) if delays else float('nan'):>12.1f} "
            f"{max(delays) if delays else '-':>5}"
        )
    innocents = statistics.mean(r["innocents"] for r in results)
    alone = sum(r["stressor_flags"][0] for r in results)
    amplified = sum(r["stressor_flags"][1] for r in results)
    lines.append(
        f"innocents flagged per 1,000 per day at score >= {OPERATING_THRESHOLD:g}: "
        f"{innocents:.2f}\ninnocent user-days in the 5/1000 budget on stressors alone (no rule "
        f"hit in 90 days): {alone}; brought into it by stressors amplifying own rule "
        f"evidence: {amplified}"
    )
    return "\n".join(lines)


def real_sample(work: Path, folder: Path) -> str:
    """Detect on a real CERT folder and report flagged people per day at the threshold."""
    workspace = work / f"ws-{folder.name}"
    with Store.open(workspace) as store:
        ingest_cert(store, folder)
        run_detection(store)
        rows = store.query(
            f"""SELECT count(*), avg(n), max(n), count(*) FILTER (WHERE n > 0),
                avg(n * 1000.0 / active) FROM (SELECT day, count(*) AS active,
                count(*) FILTER (WHERE score >= {OPERATING_THRESHOLD}) AS n
                FROM scores GROUP BY day)"""
        )[0]
    return (
        f"{folder}: {rows[0]} days, flagged people per day at score >= "
        f"{OPERATING_THRESHOLD:g}: mean {rows[1]:.2f}, max {rows[2]}, days with any {rows[3]}, "
        f"per 1,000 per day {rows[4]:.2f}"
    )


def main() -> None:
    """Run every seed, print the tables, then the real sample."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--users", type=int, default=300)
    parser.add_argument("--days", type=int, default=200)
    parser.add_argument("--seeds", type=int, nargs="+", default=[11])
    parser.add_argument("--scenarios-each", type=int, default=3)
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/molehunt-quality"))
    parser.add_argument("--r42", type=Path, default=Path("../shared/data/cert/r4.2-sample"))
    parser.add_argument("--no-r42", action="store_true")
    args = parser.parse_args()
    args.workdir.mkdir(parents=True, exist_ok=True)
    results = []
    for seed in args.seeds:
        started = time.perf_counter()
        workspace = prepare(args.workdir, args.users, args.days, seed, args.scenarios_each)
        results.append(seed_result(workspace))
        seconds = time.perf_counter() - started
        print(f"\nseed {seed} ({args.users} x {args.days}, {seconds:.0f} s)")
        print(table(results[-1:]), flush=True)
    if len(results) > 1:
        print(f"\npooled over seeds {' '.join(map(str, args.seeds))} (ROC-AUC: mean of seeds)")
        print(table(results))
    if not args.no_r42:
        print("\n" + real_sample(args.workdir, args.r42))


if __name__ == "__main__":
    main()
