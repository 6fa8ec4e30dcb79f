"""Following JSON Lines inputs: whole lines only, rejects, rotation, truncation, alerts."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path

from molehunt.ingest.reader import Chunk
from molehunt.store import Store
from molehunt.watch import Notice, WatchConfig, Watcher, follow
from molehunt.watch.follow import complete_lines
from tests.watch.conftest import MemorySink


def _event(
    user: str, time: str, channel: str = "logon", action: str = "logon", **extra: str
) -> bytes:
    fields = {"time": time, "user": user, "channel": channel, "action": action, **extra}
    return (json.dumps(fields) + "\n").encode()


def _append(path: Path, data: bytes) -> None:
    with path.open("ab") as handle:
        handle.write(data)


def _watcher(
    store: Store, paths: list[Path], notices: list[Notice], sink: MemorySink | None = None
) -> Watcher:
    return Watcher(
        store, paths, [sink] if sink else [], WatchConfig(grace_seconds=3600), notices.append
    )


def test_watch_partial_last_line_waits_until_it_is_whole(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    whole = _event("AAA0001", "2010-01-04T08:00:00Z")
    path.write_bytes(whole + whole[:20])
    with Store.open(tmp_path / "ws") as store:
        watcher = _watcher(store, [path], [])
        watcher.step()
        assert watcher.stats.read == 1
        _append(path, whole[20:])
        watcher.step()  # staged for the alert rules
        watcher.commit()  # and committed as a batch
        assert watcher.stats.read == 2 and watcher.stats.stored == 2
        lines = store.query("SELECT source_line FROM events ORDER BY 1")
    assert lines == [(1,), (2,)]


def test_watch_bad_lines_are_rejects_with_file_line_and_reason(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    path.write_bytes(_event("AAA0001", "2010-01-04T08:00:00Z") + b'{"time": "soon"\n')
    with Store.open(tmp_path / "ws") as store:
        watcher = _watcher(store, [path], [])
        watcher.step()
        _append(path, b'{"user": "AAA0001"}\n' + _event("AAA0001", "2010-01-04T09:00:00Z"))
        watcher.step()
        watcher.commit()
        rejects = store.query("SELECT path, line, reason FROM rejects ORDER BY line")
        counts = store.query("SELECT rows_read, rows_stored, rows_rejected FROM sources")
    assert [(p, line) for p, line, _ in rejects] == [(str(path), 2), (str(path), 3)]
    assert "invalid JSON" in rejects[0][2] and "missing field 'time'" in rejects[1][2]
    assert counts == [(4, 2, 2)]
    assert (watcher.stats.read, watcher.stats.stored, watcher.stats.rejected) == (4, 2, 2)


def test_watch_rotation_reads_the_rest_of_the_renamed_file_then_the_new_one(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    path.write_bytes(_event("AAA0001", "2010-01-04T08:00:00Z"))
    notices: list[Notice] = []
    with Store.open(tmp_path / "ws") as store:
        watcher = _watcher(store, [path], notices)
        watcher.step()
        _append(path, _event("AAA0001", "2010-01-04T08:30:00Z"))  # written before rotation
        os.rename(path, tmp_path / "events.jsonl.1")
        path.write_bytes(_event("BBB0002", "2010-01-04T09:00:00Z"))
        watcher.step()
        users = store.query("SELECT user, source_line FROM events ORDER BY time")
    assert users == [("AAA0001", 1), ("AAA0001", 2), ("BBB0002", 1)]
    assert [n.kind for n in notices] == ["rotated"]
    assert "events.jsonl.1" in notices[0].message


def test_watch_truncation_is_reported_and_new_content_followed(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    path.write_bytes(_event("AAA0001", "2010-01-04T08:00:00Z") * 3)
    notices: list[Notice] = []
    with Store.open(tmp_path / "ws") as store:
        watcher = _watcher(store, [path], notices)
        watcher.step()
        with path.open("wb") as handle:  # copytruncate, then the writer goes on
            handle.write(_event("CCC0003", "2010-01-04T10:00:00Z"))
        watcher.step()
        users = store.query("SELECT user, count(*) FROM events GROUP BY 1 ORDER BY 1")
    assert users == [("AAA0001", 3), ("CCC0003", 1)]
    assert [n.kind for n in notices] == ["truncated"]


def test_watch_critical_act_alerts_before_the_day_closes(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    quiet = b"".join(
        _event(
            user, f"2010-01-0{day}T09:00:00Z", "http", "visit", object="http://news.example.com/"
        )
        for day in (4, 5)
        for user in ("AAA0001", "BBB0002")
    )
    path.write_bytes(quiet)
    sink = MemorySink()
    moments = iter([datetime(2026, 12, 1, 12, 0, tzinfo=UTC)] * 10)
    with Store.open(tmp_path / "ws") as store:
        watcher = Watcher(
            store, [path], [sink], WatchConfig(grace_seconds=3600), now=lambda: next(moments)
        )
        watcher.step()
        assert sink.alerts == []
        _append(
            path,
            _event(
                "BBB0002",
                "2010-01-05T21:00:00Z",
                "http",
                "upload",
                object="https://wikileaks.org/submit",
            ),
        )
        watcher.step()
        assert watcher.last_closed() == date(2010, 1, 4)  # 5 January is still open
    assert [(a.user, a.day, a.rule_id, a.stage) for a in sink.alerts] == [
        ("BBB0002", date(2010, 1, 5), "leak-site-upload", "intra-day")
    ]
    assert sink.alerts[0].evidence == f"{path}:5"


def test_a_poll_reads_up_to_the_size_it_saw_while_the_writer_goes_on(tmp_path: Path) -> None:
    path = tmp_path / "growing.jsonl"
    path.write_bytes(b"a\n" * 10)

    def read(source: Iterator[Chunk]) -> bytes:
        seen = b""
        for chunk in source:  # the writer appends while each chunk is processed
            seen += chunk.data
            _append(path, b"b\n")
        return seen

    assert read(complete_lines(1 << 30, chunk_bytes=4, end=20)(path, 0, 1)) == b"a\n" * 10
    # Without the size seen at the poll, the reader chases the writer up to its limit.
    assert b"b\n" in read(complete_lines(40, chunk_bytes=4)(path, 0, 1))


def test_a_restarted_watch_does_not_take_what_was_read_before_for_a_backlog(
    tmp_path: Path,
) -> None:
    path = tmp_path / "events.jsonl"
    lines = (
        _event(f"U{i % 50:04d}", f"2010-01-0{4 + i % 2}T09:{i % 60:02d}:00Z") for i in range(12000)
    )
    path.write_bytes(b"".join(lines))
    assert path.stat().st_size > follow.STAGE_LIMIT_BYTES
    with Store.open(tmp_path / "ws") as store:
        first = Watcher(store, [path], [], WatchConfig(grace_seconds=3600))
        first.step()
        first.commit()
        again = Watcher(store, [path], [], WatchConfig(grace_seconds=3600))
        again.step()  # finds its place in the file: nothing new, not 1.2 MB
        assert again.files[0].arrived == 0
        assert not again.files[0].catching_up(1 << 24)
        with path.open("ab") as handle:  # then a burst
            handle.write(path.read_bytes())
        again.step()
        assert again.files[0].catching_up(1 << 24)
