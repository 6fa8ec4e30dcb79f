"""The workbench database: tokens, the workspace secret and the hash-chained audit log."""

from __future__ import annotations

import hashlib
import json
import secrets
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from molehunt.serve.auth import ROLES, Principal, Pseudonymizer, hash_token, new_token
from molehunt.serve.errors import AuthenticationError, NotFoundError, ServeError
from molehunt.store.database import WORKBENCH_FILE, WORKBENCH_SCHEMA, Store, Transaction

Clock = Callable[[], datetime]
GENESIS = "0" * 64


@dataclass(frozen=True)
class AuditEntry:
    """One row of the audit log.

    Args:
        seq: 1, 2, ... in order of writing.
        time: When (UTC).
        actor: Token name, or 'cli'.
        role: The actor's role.
        action: What was done (view_person, reveal, verdict, ...).
        subject: A pseudonym, case id or token name.
        detail: Anything else (the reveal's reason, the verdict, ...).
        row_hash: sha256 of the previous row's hash and this row's fields.
    """

    seq: int
    time: datetime
    actor: str
    role: str
    action: str
    subject: str
    detail: dict[str, Any]
    row_hash: str

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready mapping (time as ISO text)."""
        return {**self.__dict__, "time": self.time.isoformat()}


def _row_hash(previous: str, fields: list[Any]) -> str:
    text = previous + "\x1f".join(str(f) for f in fields)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


class Workbench:
    """The workbench's own database file, held open only while in use plus a short lease.

    DuckDB allows one writing process per file. The server keeps the file open while requests
    keep coming and closes it `lease` seconds after the last one, so `molehunt token create`
    (whose `Store.open` retries for a few seconds) gets its turn between bursts.

    Args:
        root: The workspace folder.
        now: The clock (UTC), injected so tests control time.
        lease: Seconds to keep the file open after the last use (0: close at once).
    """

    def __init__(self, root: Path, now: Clock, lease: float = 0.0) -> None:
        self.root = root
        self.now = now
        self.lease = lease
        self._writes = 0
        self._principals: dict[
            tuple[str | None, int | None], tuple[tuple[int, ...], Principal]
        ] = {}
        self._secret: bytes | None = None
        self._store: Store | None = None
        self._users = 0
        self._timer: threading.Timer | None = None
        self._lock = threading.Lock()

    @contextmanager
    def open(self) -> Iterator[Store]:
        """Open the workbench database (created and migrated on first use)."""
        with self._lock:
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None
            if self._store is None:
                self._store = Store.open(
                    self.root,
                    database=WORKBENCH_FILE,
                    schema=WORKBENCH_SCHEMA,
                    memory_limit="256MB",
                )
            self._users += 1
            store = self._store
        try:
            yield store
        finally:
            with self._lock:
                self._users -= 1
                if self._users == 0:
                    if self.lease <= 0:
                        self._release()
                    else:
                        self._timer = threading.Timer(self.lease, self._expire)
                        self._timer.daemon = True
                        self._timer.start()

    @contextmanager
    def write(self) -> Iterator[Transaction]:
        """Open the file and a transaction; commit, and count the write (see `version`)."""
        with self.open() as store, store.transaction() as tx:
            yield tx
        with self._lock:
            self._writes += 1

    def _expire(self) -> None:
        with self._lock:
            if self._users == 0:
                self._release()

    def _release(self) -> None:
        """Close the file (the caller holds `_lock`)."""
        if self._store is not None:
            self._store.close()
            self._store = None

    def close(self) -> None:
        """Close the file now (the server's shutdown)."""
        with self._lock:
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None
            self._release()

    def pseudonymizer(self) -> Pseudonymizer:
        """Return the pseudonymizer keyed with this workspace's secret (made on first use)."""
        if self._secret is None:
            with self.write() as tx:
                rows = tx.execute("SELECT value FROM meta WHERE key = 'workspace_secret'")
                if rows:
                    secret = str(rows[0][0])
                else:
                    secret = secrets.token_hex(32)
                    tx.execute("INSERT INTO meta VALUES ('workspace_secret', ?)", [secret])
            self._secret = bytes.fromhex(secret)
        return Pseudonymizer(self._secret)

    # -- tokens ----------------------------------------------------------------------------

    def create_token(self, name: str, role: str) -> tuple[int, str]:
        """Create a bearer token; only its hash is stored.

        Args:
            name: Who or what holds it (shown in the audit log).
            role: One of `ROLES`.

        Returns:
            (token id, the token: shown once, never again).

        Raises:
            ServeError: Unknown role or empty name.
        """
        if role not in ROLES:
            raise ServeError(f"unknown role {role!r}; expected one of: {', '.join(ROLES)}")
        if not name.strip():
            raise ServeError("a token needs a non-empty --name")
        token = new_token()
        with self.write() as tx:
            token_id = int(tx.execute("SELECT coalesce(max(token_id), 0) + 1 FROM tokens")[0][0])
            tx.execute(
                "INSERT INTO tokens VALUES (?, ?, ?, ?, ?, NULL)",
                [token_id, name.strip(), role, hash_token(token), self.now()],
            )
        return token_id, token

    def list_tokens(self) -> list[dict[str, Any]]:
        """Return every token (never the token itself): id, name, role, created, revoked."""
        with self.open() as store:
            rows = store.query_dicts(
                "SELECT token_id, name, role, created, revoked FROM tokens ORDER BY token_id"
            )
        return [
            {k: v.isoformat() if isinstance(v, datetime) else v for k, v in row.items()}
            for row in rows
        ]

    def revoke_token(self, token_id: int) -> None:
        """Revoke a token: it stops working at once, sessions included.

        Raises:
            NotFoundError: No such token.
        """
        self._principals.clear()
        with self.write() as tx:
            if not tx.execute("SELECT 1 FROM tokens WHERE token_id = ?", [token_id]):
                raise NotFoundError(f"no token with id {token_id}")
            tx.execute(
                "UPDATE tokens SET revoked = coalesce(revoked, ?) WHERE token_id = ?",
                [self.now(), token_id],
            )

    def principal(self, token: str | None = None, token_id: int | None = None) -> Principal:
        """Return who holds a token (by value or, for a session, by id).

        Raises:
            AuthenticationError: Unknown or revoked.
        """
        # A verified token is trusted while the file is unchanged: any write (a revoke from
        # this or another process included) changes the version and forces a new lookup.
        key = (hash_token(token) if token is not None else None, token_id)
        version = self.version()
        cached = self._principals.get(key)
        if cached is not None and cached[0] == version:
            return cached[1]
        found = self._lookup(token, token_id)
        if len(self._principals) > 1000:
            self._principals.clear()
        self._principals[key] = (version, found)
        return found

    def _lookup(self, token: str | None, token_id: int | None) -> Principal:
        with self.open() as store:
            if token is not None:
                rows = store.query(
                    "SELECT token_id, name, role FROM tokens "
                    "WHERE token_hash = ? AND revoked IS NULL",
                    [hash_token(token)],
                )
            else:
                rows = store.query(
                    "SELECT token_id, name, role FROM tokens "
                    "WHERE token_id = ? AND revoked IS NULL",
                    [token_id],
                )
        if not rows:
            raise AuthenticationError("unknown or revoked token")
        return Principal(int(rows[0][0]), str(rows[0][1]), str(rows[0][2]))

    def version(self) -> tuple[int, ...]:
        """Return a value that changes whenever the workbench file is written, by anyone.

        Writes through this object are counted; writes by other processes (`molehunt token
        revoke`) change the file or its write-ahead log, whose modification time and size are
        part of the value. Reads never change the file.
        """
        signature = [self._writes]
        for suffix in ("", ".wal"):
            path = self.root / f"{WORKBENCH_FILE}{suffix}"
            try:
                stat = path.stat()
                signature += [stat.st_mtime_ns, stat.st_size]
            except FileNotFoundError:
                signature += [0, 0]
        return tuple(signature)

    # -- audit log -------------------------------------------------------------------------

    def record(
        self,
        principal: Principal,
        action: str,
        subject: str,
        detail: dict[str, Any] | None = None,
        tx: Transaction | None = None,
    ) -> None:
        """Append one entry to the audit log (inside `tx` when given, so it commits with it).

        Args:
            principal: Who.
            action: What.
            subject: On what (a pseudonym, never a real id).
            detail: More (JSON-ready).
            tx: An open workbench transaction to join.
        """
        if tx is None:
            with self.write() as own:
                self.record(principal, action, subject, detail, own)
            return
        last = tx.execute("SELECT seq, row_hash FROM audit_log ORDER BY seq DESC LIMIT 1")
        seq, previous = (int(last[0][0]) + 1, str(last[0][1])) if last else (1, GENESIS)
        when = self.now()
        text = json.dumps(detail or {}, sort_keys=True, ensure_ascii=False, default=str)
        fields = [seq, when.isoformat(), principal.name, principal.role, action, subject, text]
        tx.execute(
            "INSERT INTO audit_log VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            [*fields[:1], when, *fields[2:], _row_hash(previous, fields)],
        )

    def audit_entries(self, limit: int = 200) -> list[AuditEntry]:
        """Return the newest `limit` audit entries, newest first."""
        with self.open() as store:
            rows = store.query(
                "SELECT seq, time, actor, role, action, subject, detail, row_hash FROM audit_log "
                "ORDER BY seq DESC LIMIT ?",
                [limit],
            )
        return [
            AuditEntry(int(r[0]), r[1], r[2], r[3], r[4], r[5], json.loads(r[6]), r[7])
            for r in rows
        ]

    def verify_audit(self) -> int | None:
        """Recompute the hash chain; return the first altered `seq`, or None when intact."""
        with self.open() as store:
            rows = store.query(
                "SELECT seq, time, actor, role, action, subject, detail, row_hash "
                "FROM audit_log ORDER BY seq"
            )
        previous = GENESIS
        for seq, when, actor, role, action, subject, detail, stored in rows:
            fields = [seq, when.isoformat(), actor, role, action, subject, detail]
            if _row_hash(previous, fields) != stored:
                return int(seq)
            previous = stored
        return None
