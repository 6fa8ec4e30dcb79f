"""Where alerts go: a JSON Lines file or stdout, a webhook, a syslog server (RFC 5424).

A sink is written `KIND:TARGET`, with an optional `ocsf+` prefix that writes each alert as an
OCSF Detection Finding instead of molehunt's own alert object:

    jsonl:alerts.jsonl          one JSON object per line, appended and flushed per alert
    stdout                      the same on standard output
    webhook:http://host:port/p  HTTP POST of the JSON object; retried with backoff
    syslog:udp://host:port      RFC 5424 message, JSON object as MSG (syslog:tcp:// also)
    ocsf+jsonl:findings.jsonl   ... and so on for every kind

Network sinks deliver from their own thread, so a slow receiver never delays detection;
`close()` waits (bounded) for what is queued.
"""

from __future__ import annotations

import json
import os
import queue
import socket
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any
from urllib.parse import urlsplit

from molehunt.errors import ConfigError
from molehunt.watch.alerts import WatchAlert
from molehunt.watch.ocsf import to_detection_finding

SINK_KINDS = ("jsonl", "stdout", "webhook", "syslog")
DEFAULT_ATTEMPTS = 4
DEFAULT_BACKOFF = 0.25  # seconds before the 2nd attempt; doubled for each further one
DEFAULT_TIMEOUT = 5.0
CLOSE_WAIT = 10.0
# RFC 5424 PRI = facility x 8 + severity; facility 13 is "log audit".
SYSLOG_FACILITY = 13
SYSLOG_SEVERITY = {"low": 5, "medium": 4, "high": 3, "critical": 2}

Failure = Callable[[str], None]


def render(alert: WatchAlert, ocsf: bool) -> dict[str, Any]:
    """Return the object a sink writes for `alert`.

    Args:
        alert: The alert.
        ocsf: Write it as an OCSF Detection Finding.

    Returns:
        The JSON-ready object.
    """
    return to_detection_finding(alert) if ocsf else alert.to_dict()


class Sink:
    """Base of the alert sinks: `send` each alert, `close` once.

    Args:
        spec: The sink as written on the command line.
        ocsf: Write OCSF Detection Findings.
    """

    def __init__(self, spec: str, ocsf: bool) -> None:
        self.spec = spec
        self.ocsf = ocsf
        self.sent = 0
        self.failed = 0

    def send(self, alert: WatchAlert) -> None:
        """Deliver one alert."""
        raise NotImplementedError

    def close(self) -> None:
        """Flush and release the sink."""


class JsonLinesSink(Sink):
    """Append each alert as one JSON line to a file (or stdout), flushed at once.

    Args:
        spec: The sink as written.
        ocsf: Write OCSF Detection Findings.
        path: The file, or None for stdout.
        stream: The stream used for stdout (injected by tests).
    """

    def __init__(
        self, spec: str, ocsf: bool, path: Path | None, stream: IO[str] | None = None
    ) -> None:
        super().__init__(spec, ocsf)
        self._own = path is not None
        if path is not None:
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
                self._stream: IO[str] = path.open("a", encoding="utf-8")
            except OSError as error:
                raise ConfigError(
                    f"sink {spec!r}: cannot open {path} ({error.strerror or error})"
                ) from error
        else:
            self._stream = stream or sys.stdout

    def send(self, alert: WatchAlert) -> None:
        """Write one line and flush it."""
        self._stream.write(json.dumps(render(alert, self.ocsf), sort_keys=True) + "\n")
        self._stream.flush()
        self.sent += 1

    def close(self) -> None:
        """Close the file (stdout stays open)."""
        if self._own:
            self._stream.flush()
            os.fsync(self._stream.fileno())
            self._stream.close()


class _QueuedSink(Sink):
    """A sink that delivers from a background thread; failures are reported, never raised."""

    def __init__(self, spec: str, ocsf: bool, on_failure: Failure) -> None:
        super().__init__(spec, ocsf)
        self._on_failure = on_failure
        self._queue: queue.Queue[WatchAlert | None] = queue.Queue()
        self._thread = threading.Thread(target=self._run, name=f"molehunt-sink-{spec}", daemon=True)
        self._thread.start()

    def send(self, alert: WatchAlert) -> None:
        """Queue one alert for delivery."""
        self._queue.put(alert)

    def close(self) -> None:
        """Deliver what is queued (waiting at most `CLOSE_WAIT` seconds), then stop."""
        self._queue.put(None)
        self._thread.join(CLOSE_WAIT)
        left = self._queue.qsize()
        if self._thread.is_alive() or left:
            self._on_failure(f"sink {self.spec}: stopped with {left} alert(s) not delivered")

    def _run(self) -> None:
        while True:
            alert = self._queue.get()
            if alert is None:
                return
            try:
                self.deliver(alert)
                self.sent += 1
            except OSError as error:
                self.failed += 1
                self._on_failure(f"sink {self.spec}: alert {alert.alert_id} not delivered: {error}")

    def deliver(self, alert: WatchAlert) -> None:
        """Deliver one alert now (in the sink's thread).

        Raises:
            OSError: Delivery failed for good.
        """
        raise NotImplementedError


class WebhookSink(_QueuedSink):
    """HTTP POST each alert as JSON; retry connection errors, 429 and 5xx with backoff.

    Args:
        spec: The sink as written.
        ocsf: Write OCSF Detection Findings.
        url: The http(s) URL.
        on_failure: Told (one line) when an alert could not be delivered.
        attempts: Tries per alert.
        backoff: Seconds before the second try, doubled for each further one.
        timeout: Seconds per try.
    """

    def __init__(
        self,
        spec: str,
        ocsf: bool,
        url: str,
        on_failure: Failure,
        attempts: int = DEFAULT_ATTEMPTS,
        backoff: float = DEFAULT_BACKOFF,
        timeout: float = DEFAULT_TIMEOUT,
    ) -> None:
        self.url = url
        self.attempts = attempts
        self.backoff = backoff
        self.timeout = timeout
        super().__init__(spec, ocsf, on_failure)

    def deliver(self, alert: WatchAlert) -> None:
        """POST the alert, retrying at most `attempts` times.

        Raises:
            OSError: Every try failed, or the server refused it (4xx other than 429).
        """
        body = json.dumps(render(alert, self.ocsf), sort_keys=True).encode()
        last = ""
        for attempt in range(self.attempts):
            if attempt:
                time.sleep(self.backoff * 2 ** (attempt - 1))
            request = urllib.request.Request(
                self.url, data=body, method="POST", headers={"Content-Type": "application/json"}
            )
            try:
                with urllib.request.urlopen(request, timeout=self.timeout) as response:
                    response.read()
                return
            except urllib.error.HTTPError as error:
                last = f"HTTP {error.code}"
                if error.code != 429 and error.code < 500:
                    raise OSError(f"{self.url} answered {last}; not retried") from error
            except (urllib.error.URLError, OSError) as error:
                last = str(getattr(error, "reason", error))
        raise OSError(f"{self.url}: {self.attempts} tries failed, last: {last}")


def syslog_message(alert: WatchAlert, payload: dict[str, Any], hostname: str) -> bytes:
    """Return the RFC 5424 message of one alert (the JSON object is the MSG).

    Args:
        alert: The alert.
        payload: The object to send.
        hostname: HOSTNAME field.

    Returns:
        `<PRI>1 TIMESTAMP HOSTNAME molehunt PROCID alert - MSG`, UTF-8.
    """
    pri = SYSLOG_FACILITY * 8 + SYSLOG_SEVERITY.get(alert.severity, 2)
    stamp = datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    message = json.dumps(payload, sort_keys=True)
    return f"<{pri}>1 {stamp} {hostname or '-'} molehunt {os.getpid()} alert - {message}".encode()


class SyslogSink(_QueuedSink):
    """Send each alert as an RFC 5424 message over UDP or TCP (octet-counted, RFC 6587).

    Args:
        spec: The sink as written.
        ocsf: Write OCSF Detection Findings.
        protocol: 'udp' or 'tcp'.
        address: (host, port).
        on_failure: Told when an alert could not be delivered.
    """

    def __init__(
        self, spec: str, ocsf: bool, protocol: str, address: tuple[str, int], on_failure: Failure
    ) -> None:
        self.protocol = protocol
        self.address = address
        self.hostname = socket.gethostname()
        self._socket: socket.socket | None = None
        super().__init__(spec, ocsf, on_failure)

    def deliver(self, alert: WatchAlert) -> None:
        """Send one message; a broken TCP connection is reopened once.

        Raises:
            OSError: The message could not be sent.
        """
        data = syslog_message(alert, render(alert, self.ocsf), self.hostname)
        if self.protocol == "udp":
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
                udp.sendto(data, self.address)
            return
        framed = f"{len(data)} ".encode() + data
        for attempt in range(2):
            try:
                if self._socket is None:
                    self._socket = socket.create_connection(self.address, timeout=DEFAULT_TIMEOUT)
                self._socket.sendall(framed)
                return
            except OSError:
                if self._socket is not None:
                    self._socket.close()
                self._socket = None
                if attempt:
                    raise

    def close(self) -> None:
        """Deliver what is queued, then close the connection."""
        super().close()
        if self._socket is not None:
            self._socket.close()


@dataclass(frozen=True)
class SinkSpec:
    """A parsed `--sink` value.

    Args:
        kind: One of `SINK_KINDS`.
        target: Path, URL or `udp://host:port` / `tcp://host:port` ('' for stdout).
        ocsf: Write OCSF Detection Findings.
    """

    kind: str
    target: str
    ocsf: bool

    @classmethod
    def parse(cls, text: str) -> SinkSpec:
        """Parse `[ocsf+]KIND[:TARGET]`.

        Args:
            text: The option's value.

        Returns:
            The spec.

        Raises:
            ConfigError: Unknown kind, missing target or bad address.
        """
        ocsf = text.startswith("ocsf+")
        body = text[5:] if ocsf else text
        kind, _, target = body.partition(":")
        if kind not in SINK_KINDS:
            raise ConfigError(
                f"bad sink {text!r}: unknown kind {kind!r}; expected one of "
                f"{', '.join(SINK_KINDS)} (e.g. jsonl:alerts.jsonl, webhook:http://..., "
                "syslog:udp://127.0.0.1:514), optionally prefixed ocsf+"
            )
        if kind == "jsonl" and target == "-":
            kind, target = "stdout", ""
        if kind != "stdout" and not target:
            raise ConfigError(f"bad sink {text!r}: {kind} needs a target after ':'")
        if kind == "webhook" and urlsplit(target).scheme not in ("http", "https"):
            raise ConfigError(f"bad sink {text!r}: expected an http:// or https:// URL")
        if kind == "syslog":
            _syslog_address(text, target)
        return cls(kind, target, ocsf)

    def open(self, on_failure: Failure, stream: IO[str] | None = None) -> Sink:
        """Open the sink.

        Args:
            on_failure: Told when a network sink could not deliver an alert.
            stream: Standard output (injected by tests).

        Returns:
            The sink.

        Raises:
            ConfigError: The file cannot be opened.
        """
        spec = f"{'ocsf+' if self.ocsf else ''}{self.kind}{':' if self.target else ''}{self.target}"
        if self.kind == "stdout":
            return JsonLinesSink(spec, self.ocsf, None, stream)
        if self.kind == "jsonl":
            return JsonLinesSink(spec, self.ocsf, Path(self.target))
        if self.kind == "webhook":
            return WebhookSink(spec, self.ocsf, self.target, on_failure)
        protocol, address = _syslog_address(spec, self.target)
        return SyslogSink(spec, self.ocsf, protocol, address, on_failure)


def _syslog_address(text: str, target: str) -> tuple[str, tuple[str, int]]:
    parts = urlsplit(target)
    if parts.scheme not in ("udp", "tcp") or not parts.hostname or parts.port is None:
        raise ConfigError(
            f"bad sink {text!r}: expected syslog:udp://HOST:PORT or syslog:tcp://HOST:PORT"
        )
    return parts.scheme, (parts.hostname, parts.port)
