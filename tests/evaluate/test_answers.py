"""Parsing answer keys: the official CERT folder and a simulator's answers folder."""

from __future__ import annotations

import datetime
from collections import Counter
from pathlib import Path

import pytest

from molehunt.evaluate import EvaluationError, load_answers
from molehunt.evaluate.answers import parse_time
from molehunt.simulate import SimulationConfig, simulate
from tests.conftest import ANSWERS

needs_answers = pytest.mark.skipif(not ANSWERS.is_dir(), reason=f"{ANSWERS} not found")


@needs_answers
def test_load_answers_official_r52_has_99_incidents_in_four_scenarios() -> None:
    incidents = load_answers(ANSWERS, dataset="r5.2")
    assert len(incidents) == 99
    assert Counter(i.scenario for i in incidents) == {
        "cert-1": 29,
        "cert-2": 30,
        "cert-3": 10,
        "cert-4": 30,
    }
    assert all(i.has_observables and i.malicious_days for i in incidents)
    first = incidents[0]
    assert (first.user, first.details) == ("ALT1465", "r5.2-1-ALT1465.csv")
    assert first.observables[0].event_id == "{P2W1-C6NJ88YS-2909NGZE}"
    assert first.observables[0].source == "logon"


@needs_answers
def test_load_answers_official_r62_cmp2946_malicious_in_feb_and_mar_2011() -> None:
    (incident,) = [i for i in load_answers(ANSWERS, dataset="6.2") if i.user == "CMP2946"]
    assert incident.scenario == "cert-2"
    assert {(d.year, d.month) for d in incident.malicious_days} == {(2011, 2), (2011, 3)}
    # Quoted and unquoted rows both parse; the first observable predates insiders.csv's start.
    assert incident.first_day == datetime.date(2011, 2, 2)
    assert incident.last_day == datetime.date(2011, 3, 30)
    assert len(incident.observables) == 242


@needs_answers
def test_load_answers_official_malformed_start_uses_first_observable() -> None:
    (incident,) = [i for i in load_answers(ANSWERS, dataset="6.2") if i.user == "CDE1846"]
    assert incident.start == datetime.datetime(2011, 2, 21, 11, 43, 39)
    assert any("malformed start '/21/2011 11:43:39'" in note for note in incident.notes)


@needs_answers
def test_load_answers_official_missing_observables_fall_back_to_span() -> None:
    (incident,) = load_answers(ANSWERS, dataset="2")
    assert not incident.has_observables
    assert len(incident.malicious_days) == 15  # 3/6/2010 .. 3/20/2010


@needs_answers
def test_load_answers_official_all_datasets_without_filter() -> None:
    datasets = Counter(i.dataset for i in load_answers(ANSWERS))
    assert datasets["5.2"] == 99
    assert set(datasets) == {"2", "3.1", "3.2", "5.1", "5.2", "6.1", "6.2"}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("02/07/2011 12:28:06", datetime.datetime(2011, 2, 7, 12, 28, 6)),
        ("8/18/2010 1:41:56", datetime.datetime(2010, 8, 18, 1, 41, 56)),
        ("03/04/2011", datetime.datetime(2011, 3, 4)),
        ("/21/2011 11:43:39", None),
        ("", None),
    ],
)
def test_parse_time_accepts_short_fields_and_rejects_malformed(
    text: str, expected: datetime.datetime | None
) -> None:
    assert parse_time(text) == expected


def test_load_answers_missing_index_raises(tmp_path: Path) -> None:
    with pytest.raises(EvaluationError, match=r"no insiders\.csv in"):
        load_answers(tmp_path)


def test_load_answers_index_without_user_column_raises(tmp_path: Path) -> None:
    (tmp_path / "insiders.csv").write_text("dataset,scenario,details\n")
    with pytest.raises(EvaluationError, match=r"missing column\(s\) user, start, end"):
        load_answers(tmp_path)


def test_load_answers_skips_bad_observable_row_with_its_line(tmp_path: Path) -> None:
    (tmp_path / "insiders.csv").write_text(
        "dataset,scenario,details,user,start,end\nx,1,x.csv,U1,01/04/2010 09:00:00,\n"
    )
    (tmp_path / "x.csv").write_text("logon,{A},01/04/2010 09:00:00,U1,PC,Logon\nhttp,{B}\n")
    (incident,) = load_answers(tmp_path)
    assert [o.event_id for o in incident.observables] == ["{A}"]
    assert any(note.endswith("x.csv:2: skipped a row without source, id, time and user")
               for note in incident.notes)  # fmt: skip
    assert incident.end == datetime.datetime(2010, 1, 4, 9)  # empty end -> last observable


def test_load_answers_simulator_folder_matches_activity_rows(tmp_path: Path) -> None:
    out = tmp_path / "release"
    simulate(
        SimulationConfig(out, users=30, days=60, seed=5, scenarios=(("cert-1", 1), ("cert-2", 1)))
    )
    incidents = load_answers(out / "answers")
    assert sorted(i.scenario for i in incidents) == ["cert-1", "cert-2"]
    assert {i.dataset for i in incidents} == {"sim"}
    ids = {
        line.split(",", 1)[0]
        for channel in ("logon", "device", "file", "email", "http")
        for line in (out / f"{channel}.csv").read_text().splitlines()[1:]
    }
    for incident in incidents:
        assert incident.observables and not incident.notes
        assert {o.event_id for o in incident.observables} <= ids
        assert incident.start is not None and incident.first_day == incident.start.date()
        assert incident.malicious_days == {o.time.date() for o in incident.observables}
