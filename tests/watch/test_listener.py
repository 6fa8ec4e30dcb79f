"""The loopback syslog listener: RFC 5424 / 3164 / bare lines, UDP and TCP framings."""

from __future__ import annotations

import json
import socket
import time
from pathlib import Path

import pytest

from molehunt.store import Store
from molehunt.watch import SyslogListener, WatchConfig, Watcher, message_payload

EVENT = {"time": "2010-01-04T08:00:00Z", "user": "AAA0001", "channel": "logon", "action": "logon"}


@pytest.mark.parametrize(
    "message",
    [
        b"<134>1 2010-01-04T08:00:01Z pc1 agent 42 ID7 - " + json.dumps(EVENT).encode(),
        b'<134>1 2010-01-04T08:00:01Z pc1 agent 42 ID7 [x@1 a="b\\]c"][y@2] '
        + json.dumps(EVENT).encode(),
        b"<134>1 2010-01-04T08:00:01Z pc1 agent - - - \xef\xbb\xbf" + json.dumps(EVENT).encode(),
        b"<13>Jan  4 08:00:01 pc1 agent[42]: " + json.dumps(EVENT).encode(),
        json.dumps(EVENT).encode() + b"\n",
    ],
)
def test_message_payload_is_the_json_event(message: bytes) -> None:
    assert json.loads(message_payload(message)) == EVENT


def _wait(condition: object, seconds: float = 5.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition() and time.monotonic() < deadline:  # type: ignore[operator]
        time.sleep(0.02)


def test_listener_messages_are_ingested_and_bad_ones_rejected(tmp_path: Path) -> None:
    listener = SyslogListener(0, tmp_path / "ws" / "watch" / "syslog.jsonl")
    listener.start()
    try:
        good = b"<134>1 2010-01-04T08:00:01Z pc1 agent - - - " + json.dumps(EVENT).encode()
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
            udp.sendto(good, ("127.0.0.1", listener.port))
            udp.sendto(
                b"<134>1 2010-01-04T08:00:01Z pc1 agent - - - not json",
                ("127.0.0.1", listener.port),
            )
        with socket.create_connection(("127.0.0.1", listener.port)) as tcp:
            tcp.sendall(f"{len(good)} ".encode() + good + f"{len(good)} ".encode() + good)
            tcp.sendall(good + b"\n")
        _wait(lambda: listener.received == 5)
    finally:
        listener.stop()
    assert listener.received == 5
    with Store.open(tmp_path / "ws") as store:
        watcher = Watcher(store, [listener.spool], [], WatchConfig(grace_seconds=3600))
        watcher.step()
        rejects = store.query("SELECT line, reason, raw FROM rejects")
    assert (watcher.stats.read, watcher.stats.stored, watcher.stats.rejected) == (5, 4, 1)
    ((line, reason, raw),) = rejects
    assert "invalid JSON" in reason and raw == "not json"
    assert listener.spool.read_text().splitlines()[line - 1] == "not json"  # file:line is true
