"""Alert sinks against loopback receivers started here, and the OCSF Detection Finding shape."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from datetime import UTC, date, datetime
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import pytest

from molehunt.errors import ConfigError
from molehunt.watch import SinkSpec, WatchAlert, missing_required, to_detection_finding
from molehunt.watch.alerts import alert_id

ALERT = WatchAlert(
    alert_id=alert_id("BBB0002", date(2010, 1, 5), "leak-site-upload"),
    user="BBB0002",
    day=date(2010, 1, 5),
    rule_id="leak-site-upload",
    title="Upload to a leak site",
    description="Data uploaded to a leak site.",
    severity="critical",
    weight=80.0,
    tags=("web", "upload"),
    stage="intra-day",
    raised=datetime(2026, 12, 1, 12, 0, 0, tzinfo=UTC),
    last_event=datetime(2010, 1, 5, 21, 0, 0),
    evidence="events.jsonl:5",
)


class _Hook(BaseHTTPRequestHandler):
    """Answers 503 to the first `failures` posts, then 200; keeps the bodies."""

    failures = 0
    bodies: list[bytes] = []

    def do_POST(self) -> None:  # noqa: N802 - http.server's name
        body = self.rfile.read(int(self.headers["Content-Length"]))
        type(self).bodies.append(body)
        status = 503 if len(type(self).bodies) <= type(self).failures else 200
        self.send_response(status)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def hook() -> Iterator[tuple[str, type[_Hook]]]:
    handler = type("Hook", (_Hook,), {"failures": 2, "bodies": []})
    server = HTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/alerts", handler
    server.shutdown()
    server.server_close()


def test_webhook_sink_retries_server_errors_then_delivers(hook: tuple[str, type[_Hook]]) -> None:
    url, handler = hook
    failures: list[str] = []
    sink = SinkSpec.parse(f"webhook:{url}").open(failures.append)
    sink.backoff = 0.01  # type: ignore[attr-defined]
    sink.send(ALERT)
    sink.close()
    assert len(handler.bodies) == 3  # two 503s, then delivered
    assert json.loads(handler.bodies[-1])["rule_id"] == "leak-site-upload"
    assert failures == [] and sink.sent == 1


def test_webhook_sink_gives_up_after_bounded_tries_and_says_so() -> None:
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]  # closed again: nothing listens there
    failures: list[str] = []
    sink = SinkSpec.parse(f"webhook:http://127.0.0.1:{port}/x").open(failures.append)
    sink.backoff = 0.01  # type: ignore[attr-defined]
    sink.send(ALERT)
    sink.close()
    assert sink.failed == 1
    assert len(failures) == 1 and "4 tries failed" in failures[0]


@pytest.mark.parametrize("protocol", ["udp", "tcp"])
def test_syslog_sink_sends_rfc5424_with_the_ocsf_finding(protocol: str) -> None:
    kind = socket.SOCK_DGRAM if protocol == "udp" else socket.SOCK_STREAM
    with socket.socket(socket.AF_INET, kind) as receiver:
        receiver.bind(("127.0.0.1", 0))
        receiver.settimeout(5)
        if protocol == "tcp":
            receiver.listen(1)
        port = receiver.getsockname()[1]
        sink = SinkSpec.parse(f"ocsf+syslog:{protocol}://127.0.0.1:{port}").open(print)
        sink.send(ALERT)
        if protocol == "udp":
            data = receiver.recv(65536)
        else:
            connection, _ = receiver.accept()
            with connection:
                connection.settimeout(5)
                data = b""
                while b"}" not in data or not data.rstrip().endswith(b"}"):
                    data += connection.recv(65536)
        sink.close()
    if protocol == "tcp":  # octet counting: "LEN SP MSG"
        length, _, data = data.partition(b" ")
        assert int(length) == len(data)
    header, _, message = data.decode().partition(" - {")
    pri_version, _stamp, _host, app, _pid, msgid = header.split(" ")
    assert (pri_version, app, msgid) == ("<106>1", "molehunt", "alert")  # 13 x 8 + 2 (crit)
    finding = json.loads("{" + message)
    assert finding["class_uid"] == 2004 and missing_required(finding) == []


def test_jsonl_sink_appends_one_line_per_alert(tmp_path: Path) -> None:
    sink = SinkSpec.parse(f"jsonl:{tmp_path / 'a' / 'alerts.jsonl'}").open(print)
    sink.send(ALERT)
    sink.send(ALERT)
    sink.close()
    lines = (tmp_path / "a" / "alerts.jsonl").read_text().splitlines()
    assert [json.loads(line)["user"] for line in lines] == ["BBB0002", "BBB0002"]


def test_ocsf_detection_finding_has_every_required_attribute() -> None:
    finding = to_detection_finding(ALERT)
    assert missing_required(finding) == []
    assert (finding["class_uid"], finding["category_uid"], finding["type_uid"]) == (2004, 2, 200401)
    assert finding["severity_id"] == 5 and finding["time"] == 1796126400000
    assert finding["finding_info"]["uid"] == ALERT.alert_id
    assert finding["metadata"]["version"].startswith("1.")
    assert json.loads(json.dumps(finding)) == finding


@pytest.mark.parametrize(
    "drop", ["class_uid", "finding_info", "metadata", "severity_id", "time", "type_uid"]
)
def test_ocsf_shape_check_names_a_missing_required_attribute(drop: str) -> None:
    finding = to_detection_finding(ALERT)
    del finding[drop]
    assert any(problem.startswith(drop) for problem in missing_required(finding))


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("kafka:topic", "unknown kind 'kafka'"),
        ("jsonl", "jsonl needs a target"),
        ("webhook:ftp://x", "http:// or https://"),
        ("syslog:udp://127.0.0.1", "syslog:udp://HOST:PORT"),
    ],
)
def test_sink_spec_rejects_bad_values_with_a_clear_line(text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        SinkSpec.parse(text)
