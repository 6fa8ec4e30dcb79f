"""The append-only entry log: canonical entries, signed leaves, checkpoints, proofs.

Each entry is one JSON object in canonical form (sorted keys, no spaces, UTF-8): its bytes are
the Merkle leaf. The `ledger_entries` table keeps, per entry, its index, the data, the leaf
hash and an Ed25519 signature of `"<index>\\n<leaf hash hex>"`; the per-entry signature is what
lets `verify` name the first edited, moved or forged entry rather than only report that a root
changed. After every append a checkpoint (signed tree head) is added to
`<workspace>/ledger/checkpoints`.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from molehunt.errors import LedgerError
from molehunt.ledger.checkpoint import (
    CHECKPOINTS_FILE,
    LEDGER_DIR,
    Checkpoint,
    LedgerKey,
    load_key,
    parse_checkpoints,
    parse_verifier,
    sign_checkpoint,
)
from molehunt.ledger.merkle import (
    consistency_proof,
    inclusion_proof,
    leaf_hash,
    tree_root,
)
from molehunt.store import Store

_INSERT_ROWS = 500
"""Entries per INSERT statement when several are appended at once."""


def canonical(data: dict[str, Any]) -> str:
    """Return the canonical JSON text of an entry (the bytes its leaf hash covers).

    Args:
        data: The entry's fields (JSON-ready values).

    Returns:
        Sorted keys, no whitespace, non-ASCII kept as UTF-8.

    Examples:
        >>> canonical({"b": 1, "a": "é"})
        '{"a":"é","b":1}'
    """
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def entry_message(index: int, leaf_hex: str) -> bytes:
    """The bytes an entry's signature covers: its position and its leaf hash."""
    return f"{index}\n{leaf_hex}".encode()


@dataclass(frozen=True)
class Entry:
    """One stored ledger entry, as read back (possibly tampered with).

    Args:
        index: The stored position.
        kind: Stored kind column.
        subject: Stored subject column.
        data: The canonical JSON text.
        leaf_hash: Stored leaf hash (hex).
        signature: Stored signature (base64).
    """

    index: int
    kind: str
    subject: str
    data: str
    leaf_hash: str
    signature: str

    def fields(self) -> dict[str, Any]:
        """The parsed data ({} when it is not a JSON object)."""
        try:
            parsed = json.loads(self.data)
        except json.JSONDecodeError:
            return {}
        return parsed if isinstance(parsed, dict) else {}

    @property
    def label(self) -> str:
        """How messages name the entry: `entry 17 (batch 12)`."""
        return f"entry {self.index} ({self.kind} {self.subject})"

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready mapping (data parsed)."""
        return {
            "index": self.index,
            "kind": self.kind,
            "subject": self.subject,
            "data": self.fields(),
            "leaf_hash": self.leaf_hash,
        }


def require_ledger(store: Store) -> None:
    """Check that the workspace has a ledger table.

    Raises:
        LedgerError: The workspace's schema has no ledger table.
    """
    found = store.query(
        "SELECT count(*) FROM duckdb_tables() WHERE database_name = current_database() "
        "AND schema_name = 'main' AND table_name = 'ledger_entries'"
    )  # SHOW TABLES, which lists every table and view, costs twice as much
    if not found[0][0]:
        raise LedgerError(
            f"workspace {store.root} has no ledger yet (its schema predates the ledger: run any "
            "writing command, e.g. `molehunt ledger record`)"
        )


def read_entries(store: Store) -> list[Entry]:
    """Return the stored entries in log order (by index, then by storage order).

    Args:
        store: The workspace.

    Returns:
        Every row of `ledger_entries`.

    Raises:
        LedgerError: The workspace's schema has no ledger table.
    """
    require_ledger(store)
    rows = store.query(
        "SELECT entry_index, kind, subject, data, leaf_hash, signature FROM ledger_entries "
        "ORDER BY entry_index, rowid"
    )
    return [Entry(int(r[0]), str(r[1]), str(r[2]), str(r[3]), str(r[4]), str(r[5])) for r in rows]


def checkpoints_path(root: Path) -> Path:
    """Where the workspace's checkpoints are appended."""
    return root / LEDGER_DIR / CHECKPOINTS_FILE


def read_checkpoints(root: Path) -> list[Checkpoint]:
    """Return the workspace's checkpoints in the order they were written.

    Args:
        root: The workspace folder.

    Returns:
        The checkpoints ([] when none was written).

    Raises:
        LedgerError: The file is malformed.
    """
    path = checkpoints_path(root)
    if not path.exists():
        return []
    return parse_checkpoints(path.read_text(encoding="utf-8"), str(path))


def append_entries(store: Store, items: Sequence[dict[str, Any]]) -> list[Entry]:
    """Append entries (in one transaction) and write a new signed checkpoint.

    Args:
        store: The workspace.
        items: Entry fields; each needs `kind` and `subject`.

    Returns:
        The stored entries ([] for no items: no checkpoint is written either).
    """
    if not items:
        return []
    key = load_key(store.root, create=True)
    assert key is not None  # created on demand
    added: list[Entry] = []
    with store.transaction() as connection:
        start = int(
            connection.execute("SELECT coalesce(max(entry_index) + 1, 0) FROM ledger_entries")[0][0]
        )
        for offset, item in enumerate(items):
            index = start + offset
            data = canonical(item)
            leaf = leaf_hash(data.encode()).hex()
            signature = base64.b64encode(key.sign(entry_message(index, leaf))).decode()
            added.append(
                Entry(index, str(item["kind"]), str(item["subject"]), data, leaf, signature)
            )
        for at in range(0, len(added), _INSERT_ROWS):  # a statement per entry cost ~1 ms each
            rows = added[at : at + _INSERT_ROWS]
            placeholders = ", ".join(["(?, ?, ?, ?, ?, ?)"] * len(rows))
            values = [
                value
                for e in rows
                for value in (e.index, e.kind, e.subject, e.data, e.leaf_hash, e.signature)
            ]
            connection.execute(f"INSERT INTO ledger_entries VALUES {placeholders}", values)
        leaves = [
            bytes.fromhex(str(row[0]))
            for row in connection.execute(
                "SELECT leaf_hash FROM ledger_entries ORDER BY entry_index, rowid"
            )
        ]
    _append_checkpoint(store.root, sign_checkpoint(key, len(leaves), tree_root(leaves)))
    return added


def _append_checkpoint(root: Path, checkpoint: Checkpoint) -> None:
    path = checkpoints_path(root)
    with path.open("a", encoding="utf-8") as handle:
        handle.write(checkpoint.to_text() + "\n")
        handle.flush()


def _leaves(store: Store) -> list[bytes]:
    return [bytes.fromhex(entry.leaf_hash) for entry in read_entries(store)]


def _checkpoint_of_size(root: Path, size: int | None) -> Checkpoint:
    checkpoints = read_checkpoints(root)
    if not checkpoints:
        raise LedgerError("the ledger has no checkpoint yet (ingest or detect writes the first)")
    if size is None:
        return checkpoints[-1]
    for checkpoint in reversed(checkpoints):
        if checkpoint.size == size:
            return checkpoint
    sizes = ", ".join(str(c.size) for c in checkpoints[-8:])
    raise LedgerError(f"no checkpoint of size {size} (latest sizes: {sizes})")


def _require_key(store: Store) -> LedgerKey:
    key = load_key(store.root, create=False)
    if key is None:
        raise LedgerError(f"workspace {store.root} has no ledger yet")
    return key


def prove_inclusion(store: Store, index: int, size: int | None = None) -> dict[str, Any]:
    """Build (and check) the inclusion proof of one entry under a signed checkpoint.

    Args:
        store: The workspace.
        index: The entry.
        size: The checkpoint's tree size (default: the latest checkpoint).

    Returns:
        A JSON-ready proof: the entry, its leaf hash, the audit path, the checkpoint text and
        the verifier key, everything a third party needs to check it.

    Raises:
        LedgerError: No such entry or checkpoint, or the proof does not reach the signed root.
    """
    from molehunt.ledger.merkle import root_from_inclusion

    key = _require_key(store)
    checkpoint = _checkpoint_of_size(store.root, size)
    entries = read_entries(store)
    if not 0 <= index < checkpoint.size:
        raise LedgerError(f"entry {index} is not under the checkpoint of size {checkpoint.size}")
    if checkpoint.size > len(entries):
        raise LedgerError(
            f"the checkpoint covers {checkpoint.size} entries but only {len(entries)} are stored"
        )
    leaves = [bytes.fromhex(e.leaf_hash) for e in entries[: checkpoint.size]]
    path = inclusion_proof(index, leaves)
    entry = entries[index]
    leaf = leaf_hash(entry.data.encode())
    reached = root_from_inclusion(index, checkpoint.size, leaf, path)
    return {
        "entry": entry.to_dict() | {"canonical": entry.data},
        "leaf_hash": leaf.hex(),
        "tree_size": checkpoint.size,
        "root": checkpoint.root.hex(),
        "audit_path": [node.hex() for node in path],
        "checkpoint": checkpoint.to_text(),
        "verifier": key.verifier,
        "valid": reached == checkpoint.root and checkpoint.is_signed_by(key),
    }


def prove_consistency(store: Store, old_size: int, new_size: int | None = None) -> dict[str, Any]:
    """Build (and check) the consistency proof between two signed checkpoints.

    Args:
        store: The workspace.
        old_size: The older checkpoint's tree size.
        new_size: The newer checkpoint's size (default: the latest checkpoint).

    Returns:
        A JSON-ready proof with both checkpoints, the proof hashes and whether it verifies.

    Raises:
        LedgerError: No checkpoint of such a size, or sizes out of order.
    """
    from molehunt.ledger.merkle import verify_consistency

    key = _require_key(store)
    old = _checkpoint_of_size(store.root, old_size)
    new = _checkpoint_of_size(store.root, new_size)
    if old.size > new.size:
        raise LedgerError(f"old size {old.size} is larger than new size {new.size}")
    leaves = _leaves(store)
    if new.size > len(leaves):
        raise LedgerError(
            f"the checkpoint covers {new.size} entries but only {len(leaves)} are stored"
        )
    proof = consistency_proof(old.size, leaves[: new.size])
    is_prefix = verify_consistency(old.size, new.size, old.root, new.root, proof)
    valid = is_prefix and old.is_signed_by(key) and new.is_signed_by(key)
    return {
        "old_size": old.size,
        "new_size": new.size,
        "old_root": old.root.hex(),
        "new_root": new.root.hex(),
        "proof": [node.hex() for node in proof],
        "old_checkpoint": old.to_text(),
        "new_checkpoint": new.to_text(),
        "verifier": key.verifier,
        "valid": valid,
    }


def export_checkpoints(store: Store) -> str:
    """Render the verifier key and every checkpoint for a third party to hold.

    Args:
        store: The workspace.

    Returns:
        The export text (read back by `verify --against`).

    Raises:
        LedgerError: The workspace has no ledger.
    """
    key = _require_key(store)
    notes = "\n".join(c.to_text() for c in read_checkpoints(store.root))
    return f"# molehunt ledger checkpoints\nverifier: {key.verifier}\n\n{notes}"


def parse_export(path: Path) -> tuple[LedgerKey, list[Checkpoint]]:
    """Read a file written by `export_checkpoints`.

    Args:
        path: The exported file.

    Returns:
        The exported verifier key and checkpoints.

    Raises:
        LedgerError: The file is missing or malformed.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise LedgerError(f"{path}: cannot read the exported checkpoints: {error}") from error
    lines = [line for line in text.splitlines() if not line.startswith("#")]
    verifier = [line for line in lines if line.startswith("verifier: ")]
    if len(verifier) != 1:
        raise LedgerError(f"{path}: expected one 'verifier: ' line (a `ledger export` file)")
    key = parse_verifier(verifier[0].removeprefix("verifier: "))
    notes = "\n".join(line for line in lines if not line.startswith("verifier: "))
    return key, parse_checkpoints(notes, str(path))
