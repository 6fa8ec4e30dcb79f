"""The simulation run: build the institute, plant insiders, generate and write day by day."""

from __future__ import annotations

import datetime
import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np

from molehunt.errors import SimulationError
from molehunt.simulate.activity import generate_day
from molehunt.simulate.behaviour import plan_day
from molehunt.simulate.config import SimulationConfig, SimulationSummary, validate_config
from molehunt.simulate.context import write_answers, write_context, write_ldap, write_people
from molehunt.simulate.habits import Habits, build_habits, holidays
from molehunt.simulate.insider import Scenario
from molehunt.simulate.institute import Institute, build_institute
from molehunt.simulate.native import write_native
from molehunt.simulate.printing import PrintHabits, build_print_habits, print_rows
from molehunt.simulate.scenarios import SCENARIOS, scenarios
from molehunt.simulate.writer import ActivityWriter, MaliciousRow

# Stream numbers of the seed hierarchy: SeedSequence([seed, STREAM, ...]).
INSTITUTE, HABITS, DAYS, INSIDERS, CONTEXT, PRINTING = 1, 2, 3, 4, 5, 6


def generator(seed: int, *keys: int) -> np.random.Generator:
    """The generator of one branch of the seed hierarchy."""
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence([seed, *keys])))


def plant_insiders(
    config: SimulationConfig, inst: Institute, habits: Habits, printing: PrintHabits
) -> list[Scenario]:
    """Choose a distinct person per insider and plan each scenario."""
    chooser = generator(config.seed, INSIDERS)
    taken = np.zeros(inst.size, dtype=bool)
    insiders: list[Scenario] = []
    for name, count in config.scenarios:
        cls = scenarios[name]
        if config.days < cls.min_days:
            raise SimulationError(
                f"--scenario {name} needs --days >= {cls.min_days}, got {config.days}"
            )
        for _ in range(count):
            candidates = np.flatnonzero(cls.eligible(inst, habits) & ~taken)
            if len(candidates) == 0:
                raise SimulationError(
                    f"--scenario {name}: no eligible person left; need more --users"
                )
            user = int(chooser.choice(candidates))
            taken[user] = True
            if inst.supervisor[user] >= 0:
                taken[int(inst.supervisor[user])] = True
            number = len(insiders)
            scenario = cls(
                number,
                user,
                inst,
                habits,
                config.days,
                generator(config.seed, INSIDERS, number + 1),
            )
            # Print draws come from their own stream: the other channels stay as they were.
            scenario.printing = printing
            scenario.print_rng = generator(config.seed, PRINTING, INSIDERS, number + 1)
            scenario.plan()
            insiders.append(scenario)
    return insiders


def prepare_outdir(config: SimulationConfig) -> Path:
    """Create (or, with force, empty) the output folder."""
    outdir = Path(config.outdir)
    if outdir.is_dir() and config.force:
        for child in sorted(outdir.iterdir()):
            if child.is_dir() and not child.is_symlink():
                shutil.rmtree(child)
            else:
                child.unlink()
    outdir.mkdir(parents=True, exist_ok=True)
    return outdir


def simulate(
    config: SimulationConfig, progress: Callable[[int, int], None] | None = None
) -> SimulationSummary:
    """Write a simulated CERT-format release with planted insiders and its answer key.

    Args:
        config: What to simulate and where.
        progress: Called as ``progress(done_days, total_days)`` after each generated day.

    Returns:
        Row counts per activity file and the planted insiders.

    Raises:
        SimulationError: On bad arguments, a non-empty OUTDIR without ``force``, or scenarios
            that do not fit the requested institute.

    Examples:
        >>> import tempfile, pathlib
        >>> out = pathlib.Path(tempfile.mkdtemp()) / "sim"
        >>> summary = simulate(SimulationConfig(out, users=20, days=14, seed=1))
        >>> sorted(summary.events)
        ['device', 'email', 'file', 'http', 'logon', 'print']
    """
    validate_config(config, SCENARIOS)
    inst = build_institute(generator(config.seed, INSTITUTE), config.users, config.days)
    habits = build_habits(generator(config.seed, HABITS), inst, config.days)
    printing = build_print_habits(generator(config.seed, PRINTING), inst)
    insiders = plant_insiders(config, inst, habits, printing)
    outdir = prepare_outdir(config)
    holiday = holidays(config.start, config.days)
    malicious: list[MaliciousRow] = []
    writer = ActivityWriter(outdir, config.layout, config.gzip, inst, config.seed)
    try:
        for day in range(config.days):
            date = config.start + datetime.timedelta(days=day)
            rng = generator(config.seed, DAYS, day)
            plan = plan_day(rng, inst, habits, day, date.weekday() < 5 and not holiday[day])
            batch = generate_day(rng, inst, habits, plan)
            printer_rng = generator(config.seed, PRINTING, day)
            batch["print"] = print_rows(printer_rng, inst, habits, printing, plan)
            for insider in insiders:
                insider.day_events(day, plan, batch)
            malicious += writer.write_day(day, date, batch)
            if progress is not None:
                progress(day + 1, config.days)
    finally:
        writer.close()
    context_rng = generator(config.seed, CONTEXT)
    write_ldap(outdir, inst, config.start, config.days, config.layout)
    write_people(outdir, inst, context_rng)
    write_context(outdir, inst, config.start, config.days, insiders, context_rng)
    write_answers(outdir, inst, insiders, malicious)
    native = write_native(outdir, inst) if config.output_format == "native" else {}
    return SimulationSummary(
        outdir=outdir,
        users=config.users,
        days=config.days,
        events=dict(writer.counts),
        insiders=[(s.name, inst.user_ids[s.user]) for s in insiders],
        native=native,
    )
