"""Joined lines across chunks: a Postfix message (a CUPS job) is one event wherever it is cut.

A message's delivery lines (a per-page job's later pages) join it when they follow it within
JOIN_WINDOW_LINES lines, whatever the chunk boundaries: these tests force chunks of a few
lines, kill an ingest between chunks, and compare with the same file read in one chunk.
"""

from __future__ import annotations

from pathlib import Path

import pytest

import molehunt.ingest.logs as logs
import molehunt.ingest.source as source
from molehunt.ingest.logs import common as logs_common
from molehunt.ingest.logs import ingest_logs
from molehunt.store import Store

QMGR = "Jan  2 07:00:{s:02d} mx postfix/qmgr[6]: {q}: from=<{who}@x.org>, size={size}, nrcpt=2"
SMTP = "Jan  2 07:00:{s:02d} mx postfix/smtp[7]: {q}: to=<{to}>, relay=y, status={status} (ok)"
NOISE = "Jan  2 07:00:{s:02d} mx postfix/smtpd[5]: connect from unknown[10.0.0.{s}]"


def _maillog() -> str:
    lines = []
    for number in range(12):
        queue = f"Q{number:04X}"
        lines.append(QMGR.format(s=number, q=queue, who=f"u{number}", size=100 + number))
        lines.append(NOISE.format(s=number))
        lines.append(SMTP.format(s=number, q=queue, to=f"a{number}@y.org", status="sent"))
        lines.append(NOISE.format(s=number))
        lines.append(SMTP.format(s=number, q=queue, to=f"b{number}@y.org", status="deferred"))
        # An ISO-stamped line goes through the exact parser (not the vectorised one).
        lines.append(
            f"2024-01-02T07:00:{number:02d}+00:00 mx postfix/smtp[7]: {queue}: "
            f"to=<c{number}@y.org>, relay=y, status=sent"
        )
    return "\n".join(lines) + "\n"


def _events(store: Store) -> list[tuple[object, ...]]:
    return store.query("SELECT event_id, user, size_bytes, object FROM events ORDER BY event_id")


def _expected() -> list[tuple[object, ...]]:
    return [
        (
            f"postfix:mx:Q{n:04X}",
            f"u{n}",
            100 + n,
            f"a{n}@y.org;b{n}@y.org;c{n}@y.org",
        )
        for n in range(12)
    ]


@pytest.mark.parametrize("chunk_bytes", [1 << 20, 150, 97, 333])
def test_postfix_message_cut_by_a_chunk_is_still_one_event(
    store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, chunk_bytes: int
) -> None:
    path = tmp_path / "maillog"
    path.write_text(_maillog())
    monkeypatch.setattr(logs, "_FAST_CHUNK_BYTES", chunk_bytes)
    chunks = []
    real = source._commit_chunk

    def counting(*args: object) -> tuple[int, int]:
        chunks.append(args[4])
        return real(*args)  # type: ignore[arg-type]

    monkeypatch.setattr(source, "_commit_chunk", counting)
    report = ingest_logs(store, [path], "postfix")
    if chunk_bytes < 1000:
        assert len(chunks) > 12, "the test must cut messages from their delivery lines"
    [file] = report.files
    assert (file.read, file.stored, file.rejected, file.skipped) == (72, 12, 0, 60)
    assert dict(file.skip_reasons) == {
        "postfix/smtp delivery line (recipient joined to its message)": 36,
        "postfix/smtpd line not used (only qmgr from= lines are messages)": 24,
    }
    assert _events(store) == _expected(), "every recipient joined, whatever the chunks"


def test_killed_postfix_ingest_resumes_with_the_same_messages(
    store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "maillog"
    path.write_text(_maillog())
    monkeypatch.setattr(logs, "_FAST_CHUNK_BYTES", 200)
    real = source._commit_chunk
    calls = {"n": 0}

    def dies_on_fifth(*args: object) -> tuple[int, int]:
        calls["n"] += 1
        if calls["n"] == 5:
            raise KeyboardInterrupt
        return real(*args)  # type: ignore[arg-type]

    monkeypatch.setattr(source, "_commit_chunk", dies_on_fifth)
    with pytest.raises(KeyboardInterrupt):
        ingest_logs(store, [path], "postfix")
    [(done,)] = store.query("SELECT lines_done FROM sources")
    assert 0 < done < 72
    monkeypatch.setattr(source, "_commit_chunk", real)
    monkeypatch.setattr(logs, "_FAST_CHUNK_BYTES", 333)  # other chunk boundaries than before
    report = ingest_logs(store, [path], "postfix")
    assert (report.files[0].status, report.read) == ("resumed", 72 - done)
    assert _events(store) == _expected()
    [(read, stored, rejected)] = store.query(
        "SELECT rows_read, rows_stored, rows_rejected FROM sources"
    )
    assert (read, stored, rejected) == (72, 12, 0)


def test_delivery_beyond_the_window_is_not_joined(
    store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(logs_common, "JOIN_WINDOW_LINES", 3)
    monkeypatch.setattr(logs, "JOIN_WINDOW_LINES", 3)
    monkeypatch.setattr(logs, "_FAST_CHUNK_BYTES", 120)
    lines = [
        QMGR.format(s=0, q="QA", who="ann", size=1),
        NOISE.format(s=1),
        SMTP.format(s=2, q="QA", to="near@y.org", status="sent"),  # 2 lines after: joined
        NOISE.format(s=3),
        SMTP.format(s=4, q="QA", to="far@y.org", status="sent"),  # 4 lines after: not
    ]
    path = tmp_path / "maillog"
    path.write_text("\n".join(lines) + "\n")
    report = ingest_logs(store, [path], "postfix")
    assert (report.stored, report.files[0].skipped) == (1, 4)
    assert store.query("SELECT object FROM events") == [("near@y.org",)]


CUPS_PAGE = "HP4F ann {job} [04/Mar/2024:08:09:{s:02d} +0100] {page} {copies} acme pc-1 {name} A4 x"


def test_cups_job_pages_cut_by_a_chunk_add_up(
    store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    lines = []
    for job in (7, 8, 9):
        for page in (1, 2, 3):
            line = CUPS_PAGE.format(job=job, s=page, page=page, copies=job - 5, name=f"d{job}")
            lines.append(line)
    path = tmp_path / "page_log"
    path.write_text("\n".join(lines) + "\n")
    monkeypatch.setattr(logs, "_FAST_CHUNK_BYTES", 90)  # about one line per chunk
    report = ingest_logs(store, [path], "cups")
    assert (report.read, report.stored, report.files[0].skipped) == (9, 3, 6)
    rows = store.query("SELECT object, attachment_count FROM events ORDER BY object")
    assert rows == [("d7", 6), ("d8", 9), ("d9", 12)], "each job's copies over its three pages"
