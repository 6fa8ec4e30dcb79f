"""Joined lines across chunks: a Postfix message (a CUPS job) is one event wherever it is cut.

A message's delivery lines join it while it is open (until its `removed` line, or the end of
the file), however far apart; a per-page job's later pages join it within JOIN_WINDOW_LINES
lines. These tests force chunks of a few lines, kill an ingest between chunks, and compare
with the same file read in one chunk.
"""

from __future__ import annotations

from pathlib import Path

import pytest

import molehunt.ingest.logs as logs
import molehunt.ingest.source as source
from molehunt.ingest.logs import common as logs_common
from molehunt.ingest.logs import ingest_logs
from molehunt.store import Store
from tests.ingest.killing import die_on_commit, revive

QMGR = "Jan  2 07:00:{s:02d} mx postfix/qmgr[6]: {q}: from=<{who}@x.org>, size={size}, nrcpt=2"
SMTP = "Jan  2 07:00:{s:02d} mx postfix/smtp[7]: {q}: to=<{to}>, relay=y, status={status} (ok)"
NOISE = "Jan  2 07:00:{s:02d} mx postfix/smtpd[5]: connect from unknown[10.0.0.{s}]"
CUPS_PAGE = "HP4F ann {job} [04/Mar/2024:08:09:{s:02d} +0100] {page} {copies} acme pc-1 {name} A4 x"


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
    revive(monkeypatch)
    monkeypatch.setattr(logs, "_FAST_CHUNK_BYTES", 333)  # other chunk boundaries than before
    report = ingest_logs(store, [path], "postfix")
    assert (report.files[0].status, report.read) == ("resumed", 72 - done)
    assert _events(store) == _expected()
    [(read, stored, rejected)] = store.query(
        "SELECT rows_read, rows_stored, rows_rejected FROM sources"
    )
    assert (read, stored, rejected) == (72, 12, 0)


REMOVED = "Jan  2 {clock} mx postfix/qmgr[6]: {q}: removed"


def _at(second: int) -> str:
    return f"{second // 3600:02d}:{second // 60 % 60:02d}:{second % 60:02d}"


def test_deferred_delivery_far_after_its_message_is_joined(
    store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A deferred recipient delivered 30,000 lines (hours) later, with qmgr's from= line
    # logged again for the retry: one message, both recipients, stored when it is removed.
    monkeypatch.setattr(logs, "_FAST_CHUNK_BYTES", 1 << 16)  # ~40 chunks
    qmgr = "Jan  2 {clock} mx postfix/qmgr[6]: QA: from=<ann@x.org>, size=7, nrcpt=2 (queue active)"
    smtp = "Jan  2 {clock} mx postfix/smtp[7]: QA: to=<{to}>, relay=y, status={status} (x)"
    lines = [
        qmgr.format(clock=_at(0)),
        smtp.format(clock=_at(1), to="near@y.org", status="sent"),
        smtp.format(clock=_at(1), to="far@z.org", status="deferred"),
    ]
    lines += [NOISE.format(s=n % 60) for n in range(30_000)]
    lines += [
        qmgr.format(clock=_at(7200)),  # the retry: the same message, not a new one
        smtp.format(clock=_at(7201), to="far@z.org", status="sent"),
        REMOVED.format(clock=_at(7201), q="QA"),
        QMGR.format(s=5, q="QB", who="bob", size=9),  # then a message open at the end
        SMTP.format(s=6, q="QB", to="c@y.org", status="sent"),
    ]
    path = tmp_path / "maillog"
    path.write_text("\n".join(lines) + "\n")
    report = ingest_logs(store, [path], "postfix")
    [file] = report.files
    assert (file.read, file.stored, file.rejected, file.skipped) == (30_008, 2, 0, 30_006)
    assert dict(file.skip_reasons) == {
        "postfix/smtpd line not used (only qmgr from= lines are messages)": 30_000,
        "postfix/smtp delivery line (recipient joined to its message)": 4,
        "postfix/qmgr line not used (only qmgr from= lines are messages)": 1,
        "qmgr from= line of a message already open (a later delivery attempt)": 1,
    }
    rows = store.query(
        "SELECT event_id, user, source_line, strftime(time, '%H:%M:%S'), object, recipients_to "
        "FROM events ORDER BY source_line"
    )
    assert rows == [
        ("postfix:mx:QA", "ann", 1, "00:00:00", "near@y.org;far@z.org", "near@y.org;far@z.org"),
        ("postfix:mx:QB", "bob", 30_007, "07:00:05", "c@y.org", "c@y.org"),
    ]
    assert any("1 messages still open at the end of the file" in n for n in file.notes)


def test_queue_id_reused_after_removed_is_a_new_message(store: Store, tmp_path: Path) -> None:
    lines = [
        QMGR.format(s=0, q="QA", who="ann", size=1),
        SMTP.format(s=1, q="QA", to="a@y.org", status="sent"),
        REMOVED.format(clock="07:00:02", q="QA"),
        SMTP.format(s=3, q="QA", to="late@y.org", status="sent"),  # no message open: not joined
        QMGR.format(s=4, q="QA", who="bob", size=2),
        SMTP.format(s=5, q="QA", to="b@y.org", status="sent"),
        REMOVED.format(clock="07:00:06", q="QA"),
    ]
    path = tmp_path / "maillog"
    path.write_text("\n".join(lines) + "\n")
    report = ingest_logs(store, [path], "postfix")
    assert (report.stored, report.files[0].skipped) == (2, 5)
    assert not any("open" in note for note in report.files[0].notes)
    rows = store.query("SELECT user, object FROM events ORDER BY source_line")
    assert rows == [("ann", "a@y.org"), ("bob", "b@y.org")]


def test_grown_maillog_does_not_store_an_open_message_twice(store: Store, tmp_path: Path) -> None:
    # A message open at the end of the file is stored there; the file grows (its delivery
    # and removed lines come later): the re-ingest reads only the new lines and stores no
    # second copy (batches are immutable: the later recipient is counted, not added).
    path = tmp_path / "maillog"
    first = [
        QMGR.format(s=0, q="QA", who="ann", size=1),
        SMTP.format(s=1, q="QA", to="a@y.org", status="sent"),
    ]
    path.write_text("\n".join(first) + "\n")
    assert ingest_logs(store, [path], "postfix").stored == 1
    more = [
        SMTP.format(s=2, q="QA", to="b@y.org", status="sent"),
        REMOVED.format(clock="07:00:03", q="QA"),
    ]
    path.write_text("\n".join(first + more) + "\n")
    report = ingest_logs(store, [path], "postfix")
    assert (report.files[0].status, report.read, report.stored) == ("resumed", 2, 0)
    assert store.query("SELECT user, object FROM events") == [("ann", "a@y.org")]


def test_message_size_too_large_is_rejected_where_it_is_read(
    store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A message is stored when it closes, chunks later: a size that does not fit 64 bits is
    # rejected by the parser at its own line (the store's cast would have failed the chunk).
    monkeypatch.setattr(logs, "_FAST_CHUNK_BYTES", 120)
    big = "9" * 25
    lines = [
        QMGR.format(s=0, q="QA", who="ann", size=big),
        QMGR.format(s=1, q="QB", who="bob", size="9223372036854775807"),
        *[NOISE.format(s=n) for n in range(2, 8)],
        REMOVED.format(clock="07:00:08", q="QA"),
        REMOVED.format(clock="07:00:09", q="QB"),
    ]
    path = tmp_path / "maillog"
    path.write_text("\n".join(lines) + "\n")
    report = ingest_logs(store, [path], "postfix")
    assert (report.read, report.stored, report.rejected, report.files[0].skipped) == (10, 1, 1, 8)
    assert store.query("SELECT line, reason FROM rejects") == [
        (1, f"size {big} does not fit 64 bits")
    ]
    assert store.query("SELECT user, size_bytes FROM events") == [("bob", 2**63 - 1)]


def test_unchanged_maillog_is_not_read_again(
    store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Re-ingesting a file with nothing new reads nothing: no replay of the file to find the
    # messages open at its end (they were stored there).
    path = tmp_path / "maillog"
    path.write_text(QMGR.format(s=0, q="QA", who="ann", size=1) + "\n")
    assert ingest_logs(store, [path], "postfix").stored == 1
    replayed: list[object] = []
    monkeypatch.setattr(logs_common.LogPlan, "replay", lambda self, chunk: replayed.append(chunk))
    report = ingest_logs(store, [path], "postfix")
    assert (report.files[0].status, report.read, report.stored, replayed) == (
        "unchanged",
        0,
        0,
        [],
    )


def test_killed_ingest_stores_the_messages_open_at_its_resume_point(
    store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Messages open when the ingest is killed are read again from the file on resume and
    # stored with every recipient, once; the resumed run's report says it stored them.
    lines = [QMGR.format(s=n, q=f"Q{n}", who=f"u{n}", size=n) for n in range(6)]
    lines += [NOISE.format(s=n) for n in range(40)]
    lines += [SMTP.format(s=n, q=f"Q{n}", to=f"r{n}@y.org", status="sent") for n in range(6)]
    lines += [REMOVED.format(clock=f"07:00:{n:02d}", q=f"Q{n}") for n in range(6)]
    path = tmp_path / "maillog"
    path.write_text("\n".join(lines) + "\n")
    monkeypatch.setattr(logs, "_FAST_CHUNK_BYTES", 400)
    die_on_commit(monkeypatch)
    with pytest.raises(KeyboardInterrupt):
        ingest_logs(store, [path], "postfix")
    assert store.query("SELECT count(*) FROM events") == [(0,)]
    revive(monkeypatch)
    report = ingest_logs(store, [path], "postfix")
    assert report.files[0].status == "resumed"
    assert report.stored == 6
    assert any("6 messages opened before the resume point" in n for n in report.files[0].notes)
    rows = store.query("SELECT user, object FROM events ORDER BY source_line")
    assert rows == [(f"u{n}", f"r{n}@y.org") for n in range(6)]
    [(read, stored, rejected)] = store.query(
        "SELECT rows_read, rows_stored, rows_rejected FROM sources"
    )
    assert (read, stored, rejected) == (len(lines), 6, 0)


def test_cups_page_beyond_the_window_is_not_added(
    store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(logs_common, "JOIN_WINDOW_LINES", 3)
    monkeypatch.setattr(logs, "JOIN_WINDOW_LINES", 3)
    monkeypatch.setattr(logs, "_FAST_CHUNK_BYTES", 120)
    lines = [
        CUPS_PAGE.format(job=7, s=1, page=1, copies=2, name="d7"),
        CUPS_PAGE.format(job=8, s=2, page=1, copies=1, name="d8"),
        CUPS_PAGE.format(job=7, s=3, page=2, copies=2, name="d7"),  # 2 lines after: added
        CUPS_PAGE.format(job=9, s=4, page=1, copies=1, name="d9"),
        CUPS_PAGE.format(job=7, s=5, page=3, copies=2, name="d7"),  # 4 lines after: not
    ]
    path = tmp_path / "page_log"
    path.write_text("\n".join(lines) + "\n")
    report = ingest_logs(store, [path], "cups")
    assert (report.stored, report.files[0].skipped) == (3, 2)
    rows = store.query("SELECT object, attachment_count FROM events ORDER BY object")
    assert rows == [("d7", 4), ("d8", 1), ("d9", 1)]


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
