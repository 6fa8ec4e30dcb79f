"""Detection quality on real CERT r4.2 insiders beside a one-line baseline; the simulator beside.

    python bench/quality_real.py [--data ../shared/data/cert/r4.2-insiders-dev]
        [--workdir /tmp/molehunt-real] [--sim-users 300] [--sim-days 300] [--sim-seed 31]
        [--sim-each 3] [--no-sim]

1. The dev set (19 real insiders, every user-day ranked together) is ingested and detected as a
   user would (`ingest cert`, `detect`), and scored with `molehunt evaluate`'s figures: user-day
   ROC-AUC and PR-AUC, insiders caught in the top 0.3%, 1% and 5% of all user-days strictly (on
   an answer day) and counting the run-up (from 7 days before the first answer day), per
   scenario, and false alerts per 1,000 benign user-days at the 1% budget. The same figures for
   the one-line baseline the issue compares with: per person, the z-score of (removable-media
   connects + after-hours logons) that day against their own past days. These agree with
   `../shared/tools/score-dev-set` (the same budgets, k = floor(share x user-days)).
2. A simulated institute with cert-1, cert-2 and cert-3 insiders (r4.2 layout) is detected the
   same way, and the insiders' daily rates of removable-media connects, after-hours logons and
   job-site visits in the 4 weeks before their first answer day and between their first and
   last are put beside the dev set's (mean over insiders of each one's mean per active day;
   "usual" = their other days).
"""

from __future__ import annotations

import argparse
import hashlib
import math
import time
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from molehunt.evaluate import evaluate
from molehunt.evaluate.answers import Incident, load_answers
from molehunt.evaluate.metrics import top_fraction_threshold
from molehunt.ingest import ingest_cert
from molehunt.score import run_detection
from molehunt.simulate import SimulationConfig, simulate
from molehunt.store import Store

SHARES = (0.003, 0.01, 0.05)
RATES = ("usb_connects", "after_hours_logons", "job_visits", "files_to_removable")
BEFORE_DAYS = 28

# The baseline of the issue: per person, z-score of the day's (connects + after-hours logons)
# against all their earlier active days (0 while fewer than 2, spread floored at 0.5).
BASELINE_SQL = """
    WITH x AS (SELECT user, day, usb_connects + after_hours_logons AS v FROM features),
    w AS (SELECT *, avg(v) OVER past AS mean, stddev_samp(v) OVER past AS sd,
                 count(*) OVER past AS n
          FROM x WINDOW past AS (PARTITION BY user ORDER BY day
                                 ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING))
    SELECT user, day, CASE WHEN n < 2 THEN 0 ELSE (v - mean) / greatest(coalesce(sd, 0), 0.5)
        END AS score
    FROM w"""


def detect(folder: Path, workspace: Path) -> None:
    """Ingest a CERT folder into a workspace (once) and detect with the current code.

    Detection always runs: it is incremental, and a changed configuration recomputes every day,
    so a workspace kept from an earlier run never reports that run's figures.
    """
    ingested = (workspace / "molehunt.duckdb").exists()
    with Store.open(workspace) as store:
        if not ingested:
            ingest_cert(store, folder)
        run_detection(store)


def baseline_workspace(source: Path, target: Path) -> None:
    """Write the baseline's scores into a workspace of their own (for `evaluate`)."""
    with Store.open(source, read_only=True) as store:
        rows = store.query(BASELINE_SQL)
    # The baseline's z-scores tie often; break ties as score-dev-set does (a fixed pseudo-random
    # order by sha256('tie|user|day')), so a budget flags exactly its share of user-days.
    table = pa.table(
        {
            "user": [row[0] for row in rows],
            "day": [row[1] for row in rows],
            "score": [float(row[2]) + 1e-6 * _tie_key(row[0], row[1]) for row in rows],
        }
    )
    with Store.open(target) as store:
        store.register("baseline_scores", table)
        with store.transaction() as connection:
            connection.execute("CREATE OR REPLACE TABLE scores AS SELECT * FROM baseline_scores")
        store.unregister("baseline_scores")


def _tie_key(user: str, day: Any) -> float:
    """score-dev-set's tie-break key in [0, 1) of a user-day."""
    digest = hashlib.sha256(f"tie|{user}|{day.isoformat()}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2.0**64


def figures(workspace: Path, answers: Path) -> dict[str, Any]:
    """The dev-set figures of one workspace's `scores`, overall and per scenario."""
    with Store.open(workspace, read_only=True) as store:
        result = evaluate(store, answers).to_dict()
        scores = store.query("SELECT user, day, score FROM scores")
    incidents = load_answers(answers)
    malicious = {(i.user, day) for i in incidents for day in i.malicious_days}
    values = np.array([row[2] for row in scores], dtype=np.float64)
    benign = np.array([(row[0], row[1]) not in malicious for row in scores])
    threshold = top_fraction_threshold(values, 0.01)
    false_alerts = float(((values >= threshold) & benign).sum() / benign.sum() * 1000)
    return {"evaluation": result, "false_alerts_b1": false_alerts}


def real_table(ours: dict[str, Any], base: dict[str, Any] | None) -> str:
    """Molehunt and the baseline side by side, per scenario, strict and counting the run-up."""
    lines = [
        "| scenario | scorer | insiders | ROC-AUC | PR-AUC | "
        + " | ".join(f"top {s * 100:g}%" for s in SHARES)
        + " | "
        + " | ".join(f"top {s * 100:g}% incl. run-up" for s in SHARES)
        + " |",
        "|---" * (5 + 2 * len(SHARES)) + "|",
    ]
    scorers = [("molehunt", ours)] + ([("baseline", base)] if base is not None else [])
    for name, figs in scorers:
        e = figs["evaluation"]
        for row in (*e["scenarios"], e["overall"]):
            n = row["insiders"]
            strict = [row["detected_at_top_fraction"][f"{s * 100:g}%"] for s in SHARES]
            run_up = [row["run_up_at_top_fraction"][f"{s * 100:g}%"] for s in SHARES]
            lines.append(
                f"| {row['scenario']} | {name} | {n} | {_f(row['roc_auc'])} | "
                f"{_f(row['pr_auc'])} | "
                + " | ".join(f"{k}/{n}" for k in strict)
                + " | "
                + " | ".join(f"{k}/{n}" for k in run_up)
                + " |"
            )
    lines.append("")
    lines.append(
        "false alerts per 1,000 benign user-days at the 1% budget: "
        + ", ".join(f"{name} {figs['false_alerts_b1']:.2f}" for name, figs in scorers)
    )
    return "\n".join(lines)


def rates(workspace: Path, incidents: list[Incident]) -> dict[str, dict[str, list[float]]]:
    """Per scenario and phase (usual / before / during), each insider's mean daily rates."""
    columns = ", ".join(RATES)
    out: dict[str, dict[str, list[float]]] = {}
    with Store.open(workspace, read_only=True) as store:
        for incident in incidents:
            first, last = incident.first_day, incident.last_day
            if first is None or last is None or not incident.scenario.startswith("cert-"):
                continue
            rows = store.query(
                f"SELECT day, {columns} FROM features WHERE user = ? ORDER BY day",
                [incident.user],
            )
            phases: dict[str, list[tuple[Any, ...]]] = {"usual": [], "before": [], "during": []}
            for row in rows:
                day = row[0]
                if first <= day <= last:
                    phases["during"].append(row[1:])
                elif 0 < (first - day).days <= BEFORE_DAYS:
                    phases["before"].append(row[1:])
                else:
                    phases["usual"].append(row[1:])
            target = out.setdefault(incident.scenario, {})
            for phase, values in phases.items():
                if values:
                    means = np.mean(np.array(values, dtype=np.float64), axis=0)
                    for name, mean in zip(RATES, means, strict=True):
                        target.setdefault(f"{phase}:{name}", []).append(float(mean))
    return out


def rates_table(real: dict[str, Any], sim: dict[str, Any]) -> str:
    """Real and simulated insiders' daily rates side by side, per scenario and phase."""
    lines = [
        "| scenario | phase | " + " | ".join(f"{r} real / sim" for r in RATES) + " |",
        "|---" * (2 + len(RATES)) + "|",
    ]
    for scenario in sorted(set(real) | set(sim)):
        for phase in ("usual", "before", "during"):
            cells = []
            for name in RATES:
                key = f"{phase}:{name}"
                real_mean = _mean(real.get(scenario, {}).get(key))
                sim_mean = _mean(sim.get(scenario, {}).get(key))
                cells.append(f"{real_mean} / {sim_mean}")
            lines.append(f"| {scenario} | {phase} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _mean(values: list[float] | None) -> str:
    return "-" if not values else f"{sum(values) / len(values):.2f}"


def _f(value: float | None) -> str:
    if value is None or math.isnan(value):
        return "-"
    return f"{value:.3f}"


def main() -> None:
    """Run the dev set, the baseline and the simulator; print the tables."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", type=Path, default=Path("../shared/data/cert/r4.2-insiders-dev"))
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/molehunt-real"))
    parser.add_argument("--sim-users", type=int, default=300)
    parser.add_argument("--sim-days", type=int, default=300)
    parser.add_argument("--sim-seed", type=int, default=31)
    parser.add_argument("--sim-each", type=int, default=3)
    parser.add_argument("--no-sim", action="store_true")
    args = parser.parse_args()
    args.workdir.mkdir(parents=True, exist_ok=True)
    answers = args.data / "answers"
    started = time.perf_counter()
    real_ws = args.workdir / "dev-ws"
    detect(args.data, real_ws)
    baseline_workspace(real_ws, args.workdir / "baseline-ws")
    ours = figures(real_ws, answers)
    base = figures(args.workdir / "baseline-ws", answers)
    print(f"real CERT r4.2 dev set ({args.data}, {time.perf_counter() - started:.0f} s)\n")
    print(real_table(ours, base))
    if args.no_sim:
        return
    started = time.perf_counter()
    folder = args.workdir / f"sim-{args.sim_users}x{args.sim_days}-s{args.sim_seed}"
    if not (folder / "answers" / "insiders.csv").exists():
        scenarios = tuple((name, args.sim_each) for name in ("cert-1", "cert-2", "cert-3"))
        simulate(
            SimulationConfig(
                folder,
                args.sim_users,
                args.sim_days,
                seed=args.sim_seed,
                scenarios=scenarios,
                layout="r4.2",
                force=True,
            )
        )
    detect(folder, folder / "ws")
    sim = figures(folder / "ws", folder / "answers")
    print(
        "\nthe simulated institute's cert-1..3 insiders, scored alike (its innocents included; "
        "the dev set has none):\n"
    )
    print(real_table(sim, None))
    real_rates = rates(real_ws, load_answers(answers))
    sim_rates = rates(folder / "ws", load_answers(folder / "answers"))
    print(
        f"\ninsiders' daily rates, real dev set / simulated ({args.sim_users} x {args.sim_days}, "
        f"seed {args.sim_seed}, {time.perf_counter() - started:.0f} s): usual = other days, "
        f"before = the {BEFORE_DAYS} days before the first answer day, during = first to last\n"
    )
    print(rates_table(real_rates, sim_rates))


if __name__ == "__main__":
    main()
