"""`molehunt watch` as a user runs it: a process that stops cleanly on SIGTERM or when idle."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

from molehunt.store import Store

QUIET = b"".join(
    json.dumps(
        {
            "time": f"2010-01-04T0{hour}:00:00Z",
            "user": "AAA0001",
            "channel": "logon",
            "action": "logon",
        }
    ).encode()
    + b"\n"
    for hour in range(1, 6)
)
LEAK = (
    json.dumps(
        {
            "time": "2010-01-04T21:00:00Z",
            "user": "AAA0001",
            "channel": "http",
            "action": "upload",
            "object": "https://wikileaks.org/submit",
        }
    ).encode()
    + b"\n"
)


def _molehunt(workspace: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "molehunt", "--workspace", str(workspace), *args]


def test_watch_sigterm_commits_what_was_read_and_flushes_the_sink(tmp_path: Path) -> None:
    events = tmp_path / "events.jsonl"
    events.write_bytes(QUIET)
    alerts = tmp_path / "alerts.jsonl"
    command = _molehunt(
        tmp_path / "ws", "watch", str(events), "--sink", f"jsonl:{alerts}", "--json"
    )
    child = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        time.sleep(1.0)
        with events.open("ab") as handle:
            handle.write(LEAK)
        deadline = time.monotonic() + 60
        while not (alerts.exists() and alerts.read_text()) and time.monotonic() < deadline:
            time.sleep(0.05)
        child.send_signal(signal.SIGTERM)
        out, err = child.communicate(timeout=60)
    finally:
        child.kill()
    assert child.returncode == 0, err.decode()
    summary = json.loads(out)
    assert summary["totals"]["read"] == 6 and summary["alerts"] == 1
    (alert,) = [json.loads(line) for line in alerts.read_text().splitlines()]
    assert (alert["user"], alert["rule_id"], alert["stage"]) == (
        "AAA0001",
        "leak-site-upload",
        "intra-day",
    )
    with Store.open(tmp_path / "ws", read_only=True) as store:
        assert store.query("SELECT count(*) FROM events") == [(6,)]
        assert store.query("SELECT count(*) FROM watch_alerts") == [(1,)]


def test_watch_exits_when_idle_and_a_second_run_raises_nothing_twice(tmp_path: Path) -> None:
    events = tmp_path / "events.jsonl"
    events.write_bytes(QUIET + LEAK)
    command = _molehunt(tmp_path / "ws", "watch", str(events), "--exit-when-idle", "0.5")
    first = subprocess.run(command, capture_output=True, text=True, timeout=120)
    second = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert first.returncode == 0 and second.returncode == 0, first.stderr + second.stderr
    assert first.stdout.count('"rule_id": "leak-site-upload"') == 1  # default sink: stdout
    assert "leak-site-upload" not in second.stdout
    assert "0 alerts" in second.stdout


def test_watch_usage_and_bad_sink_errors_are_one_line(tmp_path: Path) -> None:
    nothing = subprocess.run(_molehunt(tmp_path / "ws", "watch"), capture_output=True, text=True)
    assert nothing.returncode == 2 and "give at least one PATH" in nothing.stderr
    bad = subprocess.run(
        _molehunt(tmp_path / "ws", "watch", "x.jsonl", "--sink", "kafka:t"),
        capture_output=True,
        text=True,
    )
    assert bad.returncode == 1
    assert bad.stderr.strip().splitlines() == [
        "Error: bad sink 'kafka:t': unknown kind 'kafka'; expected one of jsonl, stdout, "
        "webhook, syslog (e.g. jsonl:alerts.jsonl, webhook:http://..., "
        "syslog:udp://127.0.0.1:514), optionally prefixed ocsf+"
    ]
    gz = tmp_path / "x.csv.gz"
    gz.write_bytes(b"")
    wrong = subprocess.run(
        _molehunt(tmp_path / "ws", "watch", str(gz)), capture_output=True, text=True
    )
    assert wrong.returncode == 1 and "cannot follow this file" in wrong.stderr
