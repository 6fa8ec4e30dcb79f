"""The simulator writes an ingestible CERT-like release with a correct answer key."""

from __future__ import annotations

import csv
import datetime
import hashlib
from pathlib import Path

import pytest

from molehunt.errors import SimulationError
from molehunt.simulate import SCENARIOS, SimulationConfig, parse_scenario, simulate
from molehunt.simulate.calibration import compare
from molehunt.simulate.writer import HEADERS

ALL_SCENARIOS = tuple((name, 1) for name in SCENARIOS)
REAL_SAMPLE = Path(__file__).resolve().parents[3] / "shared" / "data" / "cert" / "r4.2-sample"


def small(outdir: Path, **overrides: object) -> SimulationConfig:
    values: dict[str, object] = {"users": 50, "days": 60, "seed": 7, "scenarios": ALL_SCENARIOS}
    values.update(overrides)
    return SimulationConfig(outdir, **values)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def release(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("sim") / "release"
    simulate(small(out))
    return out


def read_csv(path: Path) -> list[list[str]]:
    with open(path, encoding="utf-8", newline="") as handle:
        return list(csv.reader(handle))


def digest(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


@pytest.mark.parametrize("channel", ["logon", "device", "file", "email", "http", "print"])
def test_activity_file_is_well_formed_sorted_with_unique_ids(release: Path, channel: str) -> None:
    rows = read_csv(release / f"{channel}.csv")
    assert tuple(rows[0]) == HEADERS["r6.2"][channel]
    body = rows[1:]
    assert body, "no rows"
    assert all(len(row) == len(rows[0]) for row in body)
    dates = [datetime.datetime.strptime(row[1], "%m/%d/%Y %H:%M:%S") for row in body]
    assert dates == sorted(dates)
    assert len({row[0] for row in body}) == len(body)
    assert b"\r" not in (release / f"{channel}.csv").read_bytes()


def test_answers_every_scenario_has_its_user_window_and_rows(release: Path) -> None:
    insiders = read_csv(release / "answers" / "insiders.csv")
    assert insiders[0] == ["dataset", "scenario", "details", "user", "start", "end"]
    assert sorted(row[1] for row in insiders[1:]) == sorted(SCENARIOS)
    for _, _, details, user, start, end in insiders[1:]:
        observed = read_csv(release / "answers" / details)
        assert observed, details
        times = [datetime.datetime.strptime(row[2], "%m/%d/%Y %H:%M:%S") for row in observed]
        assert times[0].strftime("%m/%d/%Y %H:%M:%S") == start
        assert times[-1].strftime("%m/%d/%Y %H:%M:%S") == end
        assert user in {row[3] for row in observed}


def test_answers_rows_are_exactly_rows_of_the_activity_files(release: Path) -> None:
    written = {
        c: {tuple(r) for r in read_csv(release / f"{c}.csv")[1:]}
        for c in ("logon", "device", "file", "email", "http", "print")
    }
    for row in read_csv(release / "answers" / "insiders.csv")[1:]:
        for event in read_csv(release / "answers" / row[2]):
            assert tuple(event[1:]) in written[event[0]], (row[2], event[:3])


def test_classified_files_touched_are_in_the_registry(release: Path) -> None:
    registry = {row[0]: row[2] for row in read_csv(release / "context" / "documents.csv")[1:]}
    names = {path.rsplit("\\", 1)[-1] for path in registry}
    for row in read_csv(release / "file.csv")[1:]:
        assert row[4] in registry or row[4].rsplit("\\", 1)[-1] in names or "keylogger" in row[4]
    assert "SECRET" in registry.values()


def test_printing_insiders_print_classified_documents_in_their_window(release: Path) -> None:
    registry = {row[1]: row[2] for row in read_csv(release / "context" / "documents.csv")[1:]}
    printed: dict[str, list[list[str]]] = {}
    for row in read_csv(release / "answers" / "insiders.csv")[1:]:
        rows = [e for e in read_csv(release / "answers" / row[2]) if e[0] == "print"]
        printed[row[1]] = rows
        for event in rows:
            name = event[6].split(" - ", 1)[-1]
            assert registry.get(name, "UNCLASSIFIED") != "UNCLASSIFIED", event
            assert int(event[7]) >= 1
    assert printed["departing-classified-theft"], "the departing insider printed nothing"


def test_everybody_prints_ordinary_documents(release: Path) -> None:
    rows = read_csv(release / "print.csv")[1:]
    users = {row[2] for row in rows}
    assert len(users) >= 30  # of 50 people, about 88% print
    assert all(row[4].startswith("PRN-") and int(row[6]) >= 1 for row in rows)
    assert any(row[5].startswith("Microsoft Word - ") for row in rows)


def test_print_channel_leaves_other_files_as_without_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Print draws come from their own streams: the CERT files do not depend on printing."""
    from molehunt.simulate import engine
    from molehunt.simulate.behaviour import Rows

    config = {"users": 20, "days": 30, "scenarios": (("need-to-know", 1),)}
    simulate(small(tmp_path / "with", **config))
    monkeypatch.setattr(engine, "print_rows", lambda *args: Rows("print"))
    simulate(small(tmp_path / "without", **config))
    with_print, without = digest(tmp_path / "with"), digest(tmp_path / "without")
    assert with_print["print.csv"] != without["print.csv"]
    for name in ("logon.csv", "device.csv", "file.csv", "email.csv", "http.csv"):
        assert with_print[name] == without[name], name


def test_context_files_have_documented_headers(release: Path) -> None:
    headers = {
        "hr_events.csv": ["user", "kind", "date", "detail"],
        "documents.csv": ["path", "name", "classification", "compartments", "owner"],
        "clearances.csv": ["user", "level", "compartments", "priority"],
        "travel.csv": ["user", "depart", "return", "countries", "declared"],
    }
    for name, header in headers.items():
        assert read_csv(release / "context" / name)[0] == header
    kinds = {row[1] for row in read_csv(release / "context" / "hr_events.csv")[1:]}
    assert {"resignation_notice", "last_working_day", "grievance"} <= kinds


def test_simulate_same_arguments_byte_identical(tmp_path: Path) -> None:
    first, second = tmp_path / "a", tmp_path / "b"
    simulate(small(first, users=20, days=21, scenarios=(("cert-1", 1),)))
    simulate(small(second, users=20, days=21, scenarios=(("cert-1", 1),)))
    assert digest(first) == digest(second)


def test_simulate_gzip_and_r42_layout_deterministic(tmp_path: Path) -> None:
    for name in ("a", "b"):
        simulate(
            small(
                tmp_path / name,
                users=20,
                days=21,
                layout="r4.2",
                gzip=True,
                scenarios=(("cert-1", 1),),
            )
        )
    assert digest(tmp_path / "a") == digest(tmp_path / "b")
    import gzip

    with gzip.open(tmp_path / "a" / "file.csv.gz", "rt") as handle:
        assert handle.readline().strip() == ",".join(HEADERS["r4.2"]["file"])


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"users": 5}, "--users must be >= 10"),
        ({"days": 3}, "--days must be in"),
        ({"layout": "r9"}, "--layout must be one of"),
        ({"scenarios": (("nope", 1),)}, "unknown scenario 'nope'"),
        ({"scenarios": (("cert-1", 30),)}, "insiders need --users"),
        ({"days": 20, "scenarios": (("slow-leak", 1),)}, "needs --days >= 45"),
    ],
)
def test_simulate_bad_arguments_raise_clear_errors(
    tmp_path: Path, overrides: dict[str, object], message: str
) -> None:
    base: dict[str, object] = {"users": 20, "days": 21, "scenarios": ()}
    base.update(overrides)
    with pytest.raises(SimulationError, match=message):
        simulate(SimulationConfig(tmp_path / "out", **base))  # type: ignore[arg-type]


def test_simulate_non_empty_outdir_refused_unless_force(tmp_path: Path) -> None:
    (tmp_path / "keep.txt").write_text("x")
    with pytest.raises(SimulationError, match="OUTDIR is not empty"):
        simulate(SimulationConfig(tmp_path, users=20, days=14))
    summary = simulate(SimulationConfig(tmp_path, users=20, days=14, force=True))
    assert not (tmp_path / "keep.txt").exists()
    assert summary.events["logon"] > 0


@pytest.mark.parametrize(
    ("text", "expected"), [("cert-2:3", ("cert-2", 3)), ("cert-2", ("cert-2", 1))]
)
def test_parse_scenario_valid_text_returns_name_and_count(
    text: str, expected: tuple[str, int]
) -> None:
    assert parse_scenario(text) == expected


@pytest.mark.parametrize(
    ("text", "message"), [("bogus", "known: departing"), ("cert-1:0", "COUNT")]
)
def test_parse_scenario_bad_text_raises(text: str, message: str) -> None:
    with pytest.raises(SimulationError, match=message):
        parse_scenario(text)


def test_progress_called_once_per_day(tmp_path: Path) -> None:
    calls: list[tuple[int, int]] = []
    simulate(SimulationConfig(tmp_path / "o", users=10, days=14), lambda d, t: calls.append((d, t)))
    assert calls == [(d, 14) for d in range(1, 15)]


@pytest.mark.skipif(not REAL_SAMPLE.exists(), reason="real CERT sample not available")
def test_calibration_table_compares_every_statistic(release: Path) -> None:
    table = compare(REAL_SAMPLE, release, max_rows=5_000)
    for name in ("logon/day", "http/day", "first logon hour", "after-hours share"):
        assert f"| {name} |" in table


def test_ingest_round_trip_zero_rejects_and_answers_found(release: Path, tmp_path: Path) -> None:
    store_module = pytest.importorskip("molehunt.store")
    ingest_module = pytest.importorskip("molehunt.ingest")
    if not hasattr(ingest_module, "ingest_cert") or not hasattr(store_module, "Store"):
        pytest.skip("ingest_cert not available yet")
    store = store_module.Store.open(tmp_path / "ws")
    report = ingest_module.ingest_cert(store, release)
    files = getattr(report, "files", report)
    assert files, "nothing ingested"
    assert all(result.rejected == 0 for result in files), [(f, f.rejected) for f in files]
    found = {(str(c), str(e)) for e, c in store.query("select event_id, channel from events")}
    for row in read_csv(release / "answers" / "insiders.csv")[1:]:
        for event in read_csv(release / "answers" / row[2]):
            assert (event[0], event[1]) in found
