"""The real CERT samples ingest with exact counts, and re-ingest adds nothing."""

from __future__ import annotations

import pytest

from molehunt.ingest import ingest_cert
from molehunt.store import Store
from tests.conftest import R42_SAMPLE, R52_SAMPLE, needs_samples

pytestmark = needs_samples()

# (channel, lines read, stored, rejected): counts from the shared README; the logon and
# device files end in a cut-off line, which must be rejected, not lost.
R42_EXPECTED = [
    ("logon", 34_005, 34_004, 1),
    ("device", 32_552, 32_551, 1),
    ("file", 5_446, 5_446, 0),
    ("email", 4_454, 4_454, 0),
    ("http", 4_553, 4_553, 0),
    ("psychometric", 1_000, 1_000, 0),
]


def test_ingest_r42_sample_exact_counts(store: Store) -> None:
    report = ingest_cert(store, R42_SAMPLE)
    by_channel = {f.channel: (f.read, f.stored, f.rejected) for f in report.files}
    for channel, read, stored, rejected in R42_EXPECTED:
        assert by_channel[channel] == (read, stored, rejected), channel
    ldap = [f for f in report.files if f.channel == "ldap"]
    assert len(ldap) == 18
    assert store.query("SELECT count(DISTINCT month), count(DISTINCT user_id) FROM people") == [
        (18, 1000)
    ]
    counts = dict(store.query("SELECT channel, count(*) FROM events GROUP BY 1"))
    assert counts == {c: s for c, _, s, _ in R42_EXPECTED if c != "psychometric"}
    rejects = store.query("SELECT path, line, reason FROM rejects ORDER BY path")
    assert [(p.split("/")[-1], line) for p, line, _ in rejects] == [
        ("device.csv.gz", 32_553),
        ("logon.csv.gz", 34_006),
    ]
    assert all("cut-off last line" in reason for _, _, reason in rejects)


def test_ingest_r42_sample_fields_are_normalized(store: Store) -> None:
    ingest_cert(store, R42_SAMPLE)
    row = store.query_dicts("SELECT * FROM events WHERE event_id = '{R0R9-E4GL59IK-2907OSWJ}'")[0]
    assert row["channel"] == "email"
    assert row["action"] == "send"
    assert row["user"] == "MOH0273"
    assert row["host"] == "PC-6699"
    assert row["sender"] == "MOH68@optonline.net"
    assert row["object"] == "Odonnell-Gage@bellsouth.net"
    assert row["size_bytes"] == 29942
    assert row["attachment_count"] == 0
    assert row["source_line"] == 3
    assert str(row["time"]) == "2010-01-02 07:12:16"
    file_row = store.query_dicts("SELECT * FROM events WHERE channel = 'file' LIMIT 1")[0]
    assert (file_row["action"], file_row["removable"]) == ("copy", "to")


def test_ingest_r52_sample_without_id_column(store: Store) -> None:
    report = ingest_cert(store, R52_SAMPLE)
    logon = next(f for f in report.files if f.channel == "logon")
    assert (logon.read, logon.stored, logon.rejected) == (108_085, 108_085, 0)
    ids = store.query("SELECT count(*), count(DISTINCT event_id) FROM events")[0]
    assert ids[0] == 108_085
    # Derived ids are stable: the same row gets the same id in another workspace.
    first = store.query("SELECT event_id FROM events WHERE source_line = 2")[0][0]
    assert first.startswith("h") and len(first) == 24


@pytest.mark.parametrize("sample", [R42_SAMPLE, R52_SAMPLE], ids=["r4.2", "r5.2"])
def test_reingest_same_release_adds_nothing(store: Store, sample: object) -> None:
    ingest_cert(store, sample)  # type: ignore[arg-type]
    before = store.query("SELECT count(*) FROM events")[0][0]
    people = store.query("SELECT count(*) FROM people")[0][0]
    again = ingest_cert(store, sample)  # type: ignore[arg-type]
    assert {f.status for f in again.files} == {"unchanged"}
    assert again.read == again.stored == again.rejected == 0
    assert store.query("SELECT count(*) FROM events")[0][0] == before
    assert store.query("SELECT count(*) FROM people")[0][0] == people
