"""`molehunt simulate --format native`: the same institute as native logs scores as its CERT copy
does once the fields the native formats lack are taken out of it (docs/simulate.md)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from molehunt.context import ingest_context
from molehunt.errors import SimulationError
from molehunt.ingest import ingest_cert, ingest_events
from molehunt.ingest.logs import ingest_logs
from molehunt.ingest.logs.identity_map import ingest_identities
from molehunt.score import run_detection
from molehunt.simulate import SimulationConfig, simulate
from molehunt.simulate.native import _address
from molehunt.store import Store

SCENARIOS = (("departing-classified-theft", 1), ("need-to-know", 1), ("cert-5", 1))


def reduced(row: dict[str, Any]) -> dict[str, Any] | None:
    """A CERT-copy event without what the native formats lose (docs/simulate.md): file
    content (4663), device disconnects (not logged), attachments (Postfix), the download verb
    (Squid: GET), and the hosts the logs name (the proxy sees the client address, the mail
    server itself); a copy is a write (WriteData); a file off removable storage has no
    direction (File System task: NULL, not 'none')."""
    channel, action = row["channel"], row["action"]
    if channel == "device" and action == "disconnect":
        return None
    host = row["host"]
    if channel == "email":
        host = "mail"
        recipients = [r for r in (row["object"] or "").split(";") if r.strip()]
        row["object"] = ";".join(dict.fromkeys(recipients))
    elif channel == "http":
        host = _address(host)
        action = "visit" if action == "download" else action
    elif channel == "file" and action == "copy":
        action = "write"
    event = {
        "event_id": row["event_id"],
        "time": row["time"].strftime("%Y-%m-%dT%H:%M:%SZ"),
        "user": row["user"],
        "host": host,
        "channel": channel,
        "action": action,
        "object": row["object"],
        "sender": row["sender"],
    }
    if channel == "print":
        event |= {"attachment_count": row["attachment_count"], "content": row["content"]}
    if channel == "file" and row["removable"] != "none":
        event["removable"] = row["removable"]
    return {key: value for key, value in event.items() if value is not None}


def _workspace(root: Path, release: Path) -> Store:
    store = Store.open(root)
    ingest_cert(store, release)
    ingest_context(store, release / "context")
    return store


def _scores(store: Store) -> list[tuple[object, ...]]:
    run_detection(store)
    return store.query(
        "SELECT user, day, score, rank, rule_score, model_score, booster, total FROM scores "
        "ORDER BY day, user"
    )


@pytest.fixture(scope="module")
def releases(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("native")
    for name, output_format in (("cert", "cert"), ("native", "native")):
        simulate(
            SimulationConfig(
                root / name,
                users=30,
                days=50,
                seed=11,
                scenarios=SCENARIOS,
                output_format=output_format,
            )
        )
    return root / "cert", root / "native"


def test_native_copy_has_every_log_and_no_cert_activity_file(releases: tuple[Path, Path]) -> None:
    _, native = releases
    written = sorted(str(p.relative_to(native)) for p in (native / "native").rglob("*"))
    assert [name for name in written if "/" in name.removeprefix("native/")] == [
        "native/mail/maillog",
        "native/print/page_log",
        "native/proxy/access.log",
        "native/windows/PrintService.xml",
        "native/windows/Security.xml",
    ]
    assert (native / "identities.csv").is_file()
    assert not list(native.glob("logon.csv*")) and not list(native.glob("print.csv*"))


def test_native_logs_score_as_the_cert_copy_without_the_missing_fields(
    releases: tuple[Path, Path], tmp_path: Path
) -> None:
    cert, native = releases
    with Store.open(tmp_path / "native") as store:
        ingest_cert(store, native)  # LDAP, psychometric, decoys
        ingest_identities(store, native / "identities.csv")
        report = ingest_logs(store, [native / "native"])
        assert all(result.rejected == 0 for result in report.files)
        ingest_context(store, native / "context")
        native_scores = _scores(store)
        directions = dict(store.query("SELECT removable, count(*) FROM events GROUP BY ALL"))
    # Files on the drive came as Removable Storage accesses: their direction is not lost.
    assert directions.get("to", 0) > 100 and directions.get("from", 0) > 100, directions
    with _workspace(tmp_path / "cert", cert) as store:
        rows = store.query_dicts(
            "SELECT event_id, time, user, host, channel, action, object, sender, "
            "attachment_count, content, removable FROM events ORDER BY source_id, source_line"
        )
    events = tmp_path / "reduced.jsonl"
    with open(events, "w", encoding="utf-8") as handle:
        for row in rows:
            event = reduced(row)
            if event is not None:
                handle.write(json.dumps(event) + "\n")
    with Store.open(tmp_path / "reduced") as store:
        ingest_cert(store, native)
        ingest_events(store, [events])
        ingest_context(store, native / "context")
        reduced_scores = _scores(store)
    assert len(native_scores) > 800
    assert sum(row[4] > 0 for row in native_scores) > 10  # rule hits, not an all-zero table
    assert native_scores == reduced_scores


def test_native_format_needs_the_r62_layout(tmp_path: Path) -> None:
    config = SimulationConfig(
        tmp_path / "x", users=20, days=20, layout="r4.2", output_format="native"
    )
    with pytest.raises(SimulationError, match="--format native needs --layout r6.2"):
        simulate(config)
