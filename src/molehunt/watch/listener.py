"""A syslog listener on a loopback port whose messages are JSON Lines events.

Accepted on 127.0.0.1 only, over UDP (one message per datagram) and TCP (newline-delimited or
octet-counted framing, RFC 6587):

- RFC 5424: `<PRI>1 TIMESTAMP HOST APP PROCID MSGID [SD]|- MSG`
- RFC 3164: `<PRI>Mmm dd hh:mm:ss HOST TAG: MSG`
- a bare line with no syslog header.

MSG must be one event object of molehunt's JSON Lines schema (docs/events.md). Each message
is appended as one line to a spool file in the workspace, which `watch` follows like any other
JSON Lines file: the same parser, the same `rejects` (a message that is not an event is a
reject naming the spool file's line, with the message as raw text), the same resumable
offsets. Syslog itself keeps no copy, so the spool is what survives a restart; UDP may drop
messages before they reach molehunt.
"""

from __future__ import annotations

import re
import socketserver
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import IO

from molehunt.errors import ConfigError

LOOPBACK = "127.0.0.1"
SPOOL_FOLDER = "watch"
_RFC5424 = re.compile(rb"^<\d{1,3}>1 \S+ \S+ \S+ \S+ \S+ ")
_RFC3164 = re.compile(rb"^<\d{1,3}>[A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d \S+ [^:\s]*:? ?")
_PRI = re.compile(rb"^<\d{1,3}>")
_OCTETS = re.compile(rb"^(\d{1,7}) ")


def message_payload(message: bytes) -> bytes:
    """Return the MSG part of one syslog message (the whole line when it has no header).

    Args:
        message: One message, without framing.

    Returns:
        The payload, without a UTF-8 BOM, trailing newline or carriage return.

    Examples:
        >>> message_payload(b'<134>1 2010-01-02T10:00:00Z pc app - - - {"a": 1}')
        b'{"a": 1}'
        >>> message_payload(b'<13>Jan  2 10:00:00 pc molehunt: {"a": 1}')
        b'{"a": 1}'
    """
    message = message.rstrip(b"\r\n")
    header = _RFC5424.match(message)
    if header is not None:
        rest = message[header.end() :]
        rest = rest[1:] if rest.startswith(b"-") else _skip_structured_data(rest)
        payload = rest[1:] if rest.startswith(b" ") else rest
    elif (old := _RFC3164.match(message)) is not None:
        payload = message[old.end() :]
    else:
        pri = _PRI.match(message)
        payload = message[pri.end() :] if pri is not None else message
    if payload.startswith(b"\xef\xbb\xbf"):
        payload = payload[3:]
    return payload


def _skip_structured_data(rest: bytes) -> bytes:
    """Drop RFC 5424 SD-ELEMENTs (`[id k="v" ...]...`), honouring escaped `]` and `"`."""
    index = 0
    while index < len(rest) and rest[index : index + 1] == b"[":
        quoted = False
        index += 1
        while index < len(rest):
            char = rest[index : index + 1]
            if char == b"\\":
                index += 2
                continue
            if char == b'"':
                quoted = not quoted
            elif char == b"]" and not quoted:
                index += 1
                break
            index += 1
    return rest[index:]


class SyslogListener:
    """Receive syslog messages on 127.0.0.1:`port` (UDP and TCP) into a spool file.

    Args:
        port: The port (0 picks a free one; see `port` after `start`).
        spool: The JSON Lines file the messages are appended to.
    """

    def __init__(self, port: int, spool: Path) -> None:
        self.requested = port
        self.port = port
        self.spool = spool
        self.received = 0
        self._lock = threading.Lock()
        self._handle: IO[bytes] | None = None
        self._servers: list[socketserver.BaseServer] = []
        self._threads: list[threading.Thread] = []

    def start(self) -> None:
        """Bind both sockets and serve them in background threads.

        Raises:
            ConfigError: The port cannot be bound.
        """
        self.spool.parent.mkdir(parents=True, exist_ok=True)
        self._handle = self.spool.open("ab")
        listener = self

        class Datagram(socketserver.BaseRequestHandler):
            def handle(self) -> None:
                listener.accept(self.request[0])

        class Stream(socketserver.StreamRequestHandler):
            def handle(self) -> None:
                for message in _tcp_messages(self.rfile):  # type: ignore[arg-type]
                    listener.accept(message)

        try:
            udp = socketserver.ThreadingUDPServer((LOOPBACK, self.requested), Datagram)
            self.port = udp.server_address[1]
            tcp = socketserver.ThreadingTCPServer(
                (LOOPBACK, self.port), Stream, bind_and_activate=False
            )
            tcp.allow_reuse_address = True
            tcp.daemon_threads = True
            tcp.server_bind()
            tcp.server_activate()
        except OSError as error:
            raise ConfigError(
                f"cannot listen for syslog on {LOOPBACK}:{self.requested} ({error.strerror})"
            ) from error
        for server in (udp, tcp):
            thread = threading.Thread(target=server.serve_forever, args=(0.2,), daemon=True)
            thread.start()
            self._servers.append(server)
            self._threads.append(thread)

    def accept(self, message: bytes) -> None:
        """Append one message's payload to the spool as one line (newlines become spaces)."""
        payload = message_payload(message).replace(b"\n", b" ").replace(b"\r", b" ")
        with self._lock:
            if self._handle is None:
                return
            self._handle.write(payload + b"\n")
            self._handle.flush()
            self.received += 1

    def stop(self) -> None:
        """Stop serving and close the spool (what was received is in it)."""
        for server in self._servers:
            server.shutdown()
            server.server_close()
        with self._lock:
            if self._handle is not None:
                self._handle.close()
                self._handle = None


def _tcp_messages(stream: IO[bytes]) -> Iterator[bytes]:
    """Yield the messages of one TCP connection: octet-counted (`LEN SP MSG`) or one per line.

    A message starting with a digit is octet-counted (a syslog message starts with `<`, a bare
    event with `{`); any other is ended by a newline.
    """
    buffer = b""
    while True:
        while buffer:
            counted = _OCTETS.match(buffer)
            if counted is not None:
                end = counted.end() + int(counted.group(1))
                if len(buffer) < end:
                    break
                yield buffer[counted.end() : end]
                buffer = buffer[end:].lstrip(b"\r\n")
            elif buffer[:1].isdigit() and len(buffer) < 9 and b" " not in buffer:
                break  # the length is not complete yet
            elif b"\n" in buffer:
                line, _, buffer = buffer.partition(b"\n")
                if line.strip():
                    yield line
            else:
                break
        more = stream.read1(65536)  # type: ignore[attr-defined]
        if not more:
            if buffer.strip():
                yield buffer
            return
        buffer += more


def spool_path(root: Path, port: int) -> Path:
    """Return the spool file of a listener on `port` in workspace `root`.

    Args:
        root: The workspace folder.
        port: The listening port.

    Returns:
        `<root>/watch/syslog-<port>.jsonl`.
    """
    return root / SPOOL_FOLDER / f"syslog-{port}.jsonl"
