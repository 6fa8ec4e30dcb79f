"""On a simulated institute, the planted insiders show up in the context signals."""

from __future__ import annotations

import csv
import datetime
from collections.abc import Iterator

import pytest

from molehunt.context import compute_context_daily, ingest_context, leaver_record
from molehunt.context.leaver import _documents, build_leaver_summary, canonical_json
from molehunt.ingest import ingest_cert
from molehunt.simulate import SimulationConfig, simulate
from molehunt.store import Store


@pytest.fixture(scope="module")
def simulated(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Store, dict[str, str]]]:
    root = tmp_path_factory.mktemp("sim")
    scenarios = (("departing-classified-theft", 1), ("need-to-know", 1))
    simulate(SimulationConfig(outdir=root / "out", users=30, days=75, seed=11, scenarios=scenarios))
    with (root / "out" / "answers" / "insiders.csv").open(encoding="utf-8") as handle:
        insiders = {row["scenario"]: row["user"] for row in csv.DictReader(handle)}
    with Store.open(root / "ws") as store:
        ingest_cert(store, root / "out")
        report = ingest_context(store, root / "out" / "context")
        assert report.rejected == 0
        compute_context_daily(store)
        yield store, insiders


def test_simulated_departing_insider_has_lookback_volume_on_notice_day(
    simulated: tuple[Store, dict[str, str]],
) -> None:
    store, insiders = simulated
    user = insiders["departing-classified-theft"]
    rows = store.query_dicts(
        'SELECT * FROM context_daily WHERE "user" = ? AND notice_today', [user]
    )
    assert len(rows) == 1
    notice: datetime.date = rows[0]["day"]
    before = store.query(
        "SELECT sum(classified_removable + classified_emailed + classified_uploaded"
        " + classified_printed) "
        'FROM context_daily WHERE "user" = ? AND day > ? - 90 AND day <= ?',
        [user, notice, notice],
    )[0][0]
    assert rows[0]["lookback_classified_90d"] == before > 0
    record = leaver_record(store, user)
    assert record is not None and record["verified"]
    assert record["summary"]["classified_documents"] > 0


def test_simulated_departing_insider_printed_classified_before_notice(
    simulated: tuple[Store, dict[str, str]],
) -> None:
    store, insiders = simulated
    user = insiders["departing-classified-theft"]
    printed = store.query(
        """SELECT sum(c.classified_printed) FROM context_daily c
        WHERE c."user" = ?1 AND c.day < (SELECT min(day) FROM context_daily
            WHERE "user" = ?1 AND notice_today)""",
        [user],
    )[0][0]
    assert printed > 0


def test_simulated_need_to_know_insider_has_violations(
    simulated: tuple[Store, dict[str, str]],
) -> None:
    store, insiders = simulated
    total = store.query(
        'SELECT sum(need_to_know_violations) FROM context_daily WHERE "user" = ?',
        [insiders["need-to-know"]],
    )[0][0]
    assert total > 0


def test_leaver_documents_found_together_equal_each_leavers_own_query(
    simulated: tuple[Store, dict[str, str]],
) -> None:
    store, _ = simulated
    ((leaver, last_day, until, text),) = store.query(
        "SELECT user_id, last_day, created_from_data_until, summary_json FROM leaver_records"
    )
    assert canonical_json(build_leaver_summary(store, leaver, last_day, until)) == text
    # Several leavers in one query (as a period with many leavers seals them): everyone's
    # classified items on a few days, the same person twice with two last days.
    people = [str(row[0]) for row in store.query("SELECT DISTINCT user FROM events ORDER BY 1")]
    days = [last_day, last_day - datetime.timedelta(days=20), last_day + datetime.timedelta(days=9)]
    pairs = [(user, day) for user in people for day in days]
    together = _documents(store, pairs)
    assert sum(1 for found in together.values() if found) >= 5
    for pair in pairs:
        assert together[pair] == _documents(store, [pair])[pair]
