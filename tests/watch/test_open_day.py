"""The intra-day evaluation with context: its context rows and hits against batch detect."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

import pytest

from molehunt.context import ingest_context
from molehunt.context.labels import label_events
from molehunt.context.signals import add_open_days
from molehunt.detect.loader import active_rules
from molehunt.ingest import ingest_cert
from molehunt.score import run_detection
from molehunt.simulate import SimulationConfig, simulate
from molehunt.store import Store
from molehunt.watch import is_critical
from molehunt.watch.alerts import open_day_hits

CONTEXT = "SELECT * FROM context_daily WHERE day > ? AND day <= ? ORDER BY user, day"


class _RollBack(Exception):
    pass


@pytest.fixture(scope="module")
def institute(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, Path, date]]:
    """(closed workspace, batch workspace, last closed day): 30 people x 45 days with a
    document registry, printing and insiders who touch classified documents; the closed
    workspace holds every event but is detected through `since` only (the open days follow)."""
    root = tmp_path_factory.mktemp("open-day")
    scenarios = (("need-to-know", 1), ("departing-classified-theft", 1), ("cert-1", 1))
    simulate(SimulationConfig(outdir=root / "sim", users=30, days=45, seed=5, scenarios=scenarios))
    batch, closed = root / "batch", root / "closed"
    for workspace in (batch, closed):
        with Store.open(workspace) as store:
            ingest_cert(store, root / "sim")
            assert ingest_context(store, root / "sim" / "context").rejected == 0
    with Store.open(batch) as store:
        run_detection(store)
        # The open days hold the last day on which someone first printed a compartment's
        # documents (after the first week, when everyone does), read from earlier printing.
        first = store.query("SELECT min(day) + 10 FROM features")[0][0]
        printed = store.query(
            "SELECT max(day) FROM context_daily WHERE compartments_first_printed > 0 AND day > ?",
            [first],
        )[0][0]
    assert printed is not None
    since = printed - timedelta(days=4)
    with Store.open(closed) as store:
        run_detection(store, until=since)
    yield closed, batch, since


def test_open_day_context_rows_are_those_of_batch_detect(
    institute: tuple[Path, Path, date],
) -> None:
    closed, batch, since = institute
    until = since + timedelta(days=10)
    with Store.open(batch, read_only=True) as store:
        expected = store.query(CONTEXT, [since, until])
    with Store.open(closed) as store:
        through = store.query("SELECT value FROM meta WHERE key = 'printed_through'")
        assert through and str(through[0][0]) >= since.isoformat()  # the printed-before path
        label_events(store, since)  # as open_day_hits does
        try:
            with store.transaction() as connection:
                added = add_open_days(connection, since, until)
                rows = connection.execute(CONTEXT, [since, until])
                raise _RollBack
        except _RollBack:
            pass
        assert store.query("SELECT count(*) FROM context_daily WHERE day > ?", [since]) == [(0,)]
    assert added == len(expected) > 0
    assert rows == expected
    columns = ("classified_read", "need_to_know_violations", "compartments_first_printed")
    with Store.open(batch, read_only=True) as store:
        sums = store.query(
            f"SELECT {', '.join(f'sum({c})' for c in columns)} FROM context_daily "
            "WHERE day > ? AND day <= ?",
            [since, until],
        )[0]
    assert all(value and value > 0 for value in sums), "the open days should carry context"


def test_open_day_hits_of_the_critical_features_only_equal_the_full_feature_run(
    institute: tuple[Path, Path, date],
) -> None:
    closed, _, since = institute
    until = since + timedelta(days=10)
    critical = [rule for rule in active_rules() if is_critical(rule)]
    with Store.open(closed) as store:
        everyone = [str(r[0]) for r in store.query("SELECT DISTINCT user FROM events")]
        for users in (None, everyone[:7]):
            subset = open_day_hits(store, critical, since, until, users)
            full = open_day_hits(store, critical, since, until, users, all_features=True)
            assert sorted(subset) == sorted(full)
            if users is None:
                assert len({rule for _, _, rule in full}) >= 2, "critical rules should fire"
