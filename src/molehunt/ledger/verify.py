"""`molehunt ledger verify`: prove the recorded evidence was not altered, or name what was.

Checks, in this order, and reports every problem sorted by the entry it concerns:

1. the log: entries numbered 0..n-1 with no gap or repeat; each entry's data hashes to its
   stored leaf hash; each (index, leaf hash) carries the workspace key's signature; the stored
   kind and subject agree with the data;
2. the checkpoints: each is signed by the workspace key, covers no more entries than are
   stored, and its root is the Merkle root of the first `size` stored leaves;
3. an exported copy of the checkpoints (`--against`), if given: same key, and each exported
   root is still the root of the stored log at that size (catches a log rewritten by someone
   holding the workspace's own key);
4. the evidence: every batch's Parquet file still hashes as recorded and its `batches` row
   still matches; every day's scores still hash as last recorded; every marked copy's row
   still matches; the machine and service accounts' rows (`account_events`) of each recorded
   source-line range still hash as recorded; nothing in `batches`, `scores`,
   `marked_copies` or `account_events` is missing from the log.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from molehunt.errors import LedgerError
from molehunt.ledger.checkpoint import Checkpoint, LedgerKey, load_key
from molehunt.ledger.evidence import (
    BATCH_COLUMNS,
    EMPTY_SHA256,
    account_columns,
    account_digests,
    audit_rows,
    file_sha256,
    score_columns,
    score_digests,
    unrecorded_account_rows,
)
from molehunt.ledger.log import (
    Entry,
    entry_message,
    parse_export,
    read_checkpoints,
    read_entries,
)
from molehunt.ledger.merkle import leaf_hash, tree_root
from molehunt.store import Store

_UNRECORDED = 1 << 62  # sorts problems about unrecorded evidence after every entry


@dataclass(frozen=True)
class LedgerProblem:
    """One thing that does not verify.

    Args:
        entry: The entry it concerns (None: evidence that was never recorded).
        check: entries | checkpoints | export | evidence.
        message: What is wrong, naming the entry, file, batch or day.
    """

    entry: int | None
    check: str
    message: str

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready mapping."""
        return {"entry": self.entry, "check": self.check, "message": self.message}


@dataclass
class VerifyReport:
    """The outcome of `verify_ledger`.

    Args:
        entries: Entries stored.
        checkpoints: Checkpoints checked.
        batches: Batch entries checked against their files.
        score_days: Score days checked.
        marked_copies: Marked copies checked.
        analyst_actions: Analyst actions (workbench audit rows) checked.
        account_rows: Ranges of machine and service accounts' rows checked.
        problems: Everything that failed, first bad entry first.
    """

    entries: int = 0
    checkpoints: int = 0
    batches: int = 0
    score_days: int = 0
    marked_copies: int = 0
    analyst_actions: int = 0
    account_rows: int = 0
    problems: list[LedgerProblem] = field(default_factory=list)

    @property
    def is_valid(self) -> bool:
        """Whether everything verified."""
        return not self.problems

    def add(self, entry: int | None, check: str, message: str) -> None:
        """Record a problem."""
        self.problems.append(LedgerProblem(entry, check, message))

    def sort(self) -> None:
        """Order problems by the entry they concern (unrecorded evidence last)."""
        self.problems.sort(key=lambda p: _UNRECORDED if p.entry is None else p.entry)

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready mapping."""
        return {
            "valid": self.is_valid,
            "entries": self.entries,
            "checkpoints": self.checkpoints,
            "batches": self.batches,
            "score_days": self.score_days,
            "marked_copies": self.marked_copies,
            "analyst_actions": self.analyst_actions,
            "account_rows": self.account_rows,
            "first_bad_entry": self.problems[0].entry if self.problems else None,
            "problems": [p.to_dict() for p in self.problems],
        }


def verify_ledger(store: Store, against: Path | None = None) -> VerifyReport:
    """Verify the log, its checkpoints and the evidence it covers.

    Args:
        store: The workspace.
        against: A file written by `molehunt ledger export`, held by a third party.

    Returns:
        The report; `is_valid` is false and `problems[0]` names the first bad entry when
        anything was edited, deleted, reordered, truncated or replaced.

    Raises:
        LedgerError: The workspace has no ledger at all, or a file is unreadable.
    """
    report = VerifyReport()
    entries = read_entries(store)
    key = load_key(store.root, create=False)
    if key is None:
        if entries:
            report.add(0, "entries", "the ledger's key files are missing from the workspace")
            return report
        raise LedgerError(f"workspace {store.root} has no ledger yet (nothing was recorded)")
    report.entries = len(entries)
    _check_entries(entries, key, report)
    leaves = [_leaf_bytes(e) for e in entries]
    checkpoints = read_checkpoints(store.root)
    report.checkpoints = len(checkpoints)
    for number, checkpoint in enumerate(checkpoints, start=1):
        _check_checkpoint(f"checkpoint {number}", checkpoint, key, leaves, "checkpoints", report)
    if against is not None:
        exported_key, exported = parse_export(against)
        if exported_key.verifier != key.verifier:
            report.add(0, "export", f"the workspace key is not the key exported in {against}")
        for number, checkpoint in enumerate(exported, start=1):
            label = f"exported checkpoint {number} ({against.name})"
            _check_checkpoint(label, checkpoint, exported_key, leaves, "export", report)
    _check_evidence(store, entries, report)
    report.sort()
    return report


def _leaf_bytes(entry: Entry) -> bytes:
    try:
        return bytes.fromhex(entry.leaf_hash)
    except ValueError:
        return b""


def _check_entries(entries: list[Entry], key: LedgerKey, report: VerifyReport) -> None:
    for position, entry in enumerate(entries):
        if entry.index != position:
            what = "missing (deleted)" if entry.index > position else "stored twice or moved"
            report.add(position, "entries", f"entry {position} is {what}")
            break  # every later position is shifted; the first gap is the finding
        if leaf_hash(entry.data.encode()).hex() != entry.leaf_hash:
            report.add(
                entry.index,
                "entries",
                f"{entry.label} was edited: its data no longer matches its leaf hash",
            )
            continue
        try:
            signature = base64.b64decode(entry.signature, validate=True)
        except binascii.Error:
            signature = b""
        if not key.is_valid(entry_message(entry.index, entry.leaf_hash), signature):
            report.add(
                entry.index,
                "entries",
                f"{entry.label} is not signed for position {entry.index} (edited, moved or forged)",
            )
            continue
        fields = entry.fields()
        if fields.get("kind") != entry.kind or str(fields.get("subject")) != entry.subject:
            report.add(entry.index, "entries", f"{entry.label}: kind or subject column edited")


def _check_checkpoint(
    label: str,
    checkpoint: Checkpoint,
    key: LedgerKey,
    leaves: list[bytes],
    check: str,
    report: VerifyReport,
) -> None:
    if not checkpoint.is_signed_by(key):
        report.add(
            min(checkpoint.size, len(leaves)) if leaves else 0,
            check,
            f"{label} (size {checkpoint.size}) is not signed by the workspace key "
            "(replaced or edited)",
        )
        return
    if checkpoint.size > len(leaves):
        report.add(
            len(leaves),
            check,
            f"entries {len(leaves)}..{checkpoint.size - 1} are missing: the log was truncated "
            f"({label} covers {checkpoint.size} entries, {len(leaves)} are stored)",
        )
        return
    if tree_root(leaves[: checkpoint.size]) != checkpoint.root:
        report.add(
            max(checkpoint.size - 1, 0),
            check,
            f"{label} (size {checkpoint.size}) does not match the stored log: its first "
            f"{checkpoint.size} entries were rewritten or the checkpoint replaced",
        )


def _check_evidence(store: Store, entries: list[Entry], report: VerifyReport) -> None:
    latest: dict[tuple[str, str], Entry] = {}
    for entry in entries:
        latest[(entry.kind, entry.subject)] = entry
    batches = {
        str(row[0]): row
        for row in store.query(f"SELECT {BATCH_COLUMNS} FROM batches ORDER BY batch_id")
    }
    copies = {
        row["mark_id"]: row
        for row in store.query_dicts(
            "SELECT mark_id, doc_id, recipient, CAST(issued AS VARCHAR) AS issued, file_name, "
            "sha256 FROM marked_copies"
        )
    }
    days = _ScoreDays(store)
    actions = audit_rows(store.root)
    accounts: list[Entry] = []
    for (kind, subject), entry in sorted(latest.items(), key=lambda item: item[1].index):
        if kind == "batch":
            report.batches += 1
            _check_batch(store, entry, entry.fields(), batches.get(subject), report)
        elif kind == "score_day":
            report.score_days += 1
            days.check(entry, report)
        elif kind == "marked_copy":
            report.marked_copies += 1
            _check_copy(entry, copies.get(subject), report)
        elif kind == "analyst_action":
            report.analyst_actions += 1
            _check_action(entry, actions.get(subject), report)
        elif kind == "account_rows":
            report.account_rows += 1
            accounts.append(entry)
    _check_account_rows(store, accounts, report)
    unrecorded = [
        f"batch {batch_id} ({row[2]}) is not in the ledger (added behind molehunt's back, "
        "or run `molehunt ledger record`)"
        for batch_id, row in batches.items()
        if ("batch", batch_id) not in latest
    ]
    unrecorded += [
        f"the scores of {day} are not in the ledger"
        for day in days.current()
        if ("score_day", day) not in latest
    ]
    unrecorded += [
        f"marked copy {mark_id} is not in the ledger"
        for mark_id in sorted(copies)
        if ("marked_copy", mark_id) not in latest
    ]
    unrecorded += [
        f"analyst action {seq} of the workbench's audit log is not in the ledger "
        "(run `molehunt ledger record`)"
        for seq in actions
        if ("analyst_action", seq) not in latest
    ]
    unrecorded += _unrecorded_account_rows(store)
    for message in unrecorded:
        report.add(None, "evidence", message)


def _check_account_rows(store: Store, entries: list[Entry], report: VerifyReport) -> None:
    """Report each range of machine and service accounts' rows that no longer hashes as
    recorded (a row edited, added or deleted within it)."""
    columns = account_columns(store)
    by_columns: dict[tuple[str, ...], list[Entry]] = {}
    for entry in entries:
        wanted = tuple(str(c) for c in entry.fields().get("columns", []))
        missing = sorted(set(wanted) - set(columns))
        if missing:
            report.add(entry.index, "evidence", f"{entry.label}: account_events lost {missing}")
        else:
            by_columns.setdefault(wanted, []).append(entry)
    for wanted, group in by_columns.items():
        ranges = []
        for entry in group:
            fields = entry.fields()
            ranges.append(
                (int(fields["source_id"]), int(fields["first_line"]), int(fields["last_line"]))
            )
        for entry, now in zip(group, account_digests(store, list(wanted), ranges), strict=True):
            fields = entry.fields()
            if (fields.get("rows"), fields.get("sha256")) != now:
                report.add(
                    entry.index,
                    "evidence",
                    f"{entry.label}: the machine and service accounts' rows of source "
                    f"{fields.get('source_id')}, lines {fields.get('first_line')}-"
                    f"{fields.get('last_line')}, were altered ({now[0]} rows now, "
                    f"{fields.get('rows')} recorded)",
                )


def _unrecorded_account_rows(store: Store) -> list[str]:
    """Messages for the rows of `account_events` outside every recorded range, per source."""
    return [
        f"{count} rows of machine and service accounts of source {source_id} (lines "
        f"{low}-{high}) are not in the ledger (added behind molehunt's back, or run "
        "`molehunt ledger record`)"
        for source_id, count, low, high in unrecorded_account_rows(store)
    ]


class _ScoreDays:
    """Each day's current score hash, computed once per set of recorded columns."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.columns = score_columns(store)
        self.digests: dict[tuple[str, ...], dict[str, tuple[int, str]]] = {}

    def current(self) -> list[str]:
        """Days that have scores now."""
        return sorted(self._digests(tuple(self.columns))) if self.columns else []

    def _digests(self, columns: tuple[str, ...]) -> dict[str, tuple[int, str]]:
        if columns not in self.digests:
            self.digests[columns] = score_digests(self.store, list(columns))
        return self.digests[columns]

    def check(self, entry: Entry, report: VerifyReport) -> None:
        """Report the entry when its day's scores no longer hash as recorded."""
        fields = entry.fields()
        wanted = tuple(str(c) for c in fields.get("columns", []))
        missing = sorted(set(wanted) - set(self.columns))
        if missing:
            report.add(entry.index, "evidence", f"{entry.label}: scores lost columns {missing}")
            return
        now = self._digests(wanted).get(entry.subject, (0, EMPTY_SHA256))
        if (fields.get("rows"), fields.get("sha256")) != now:
            report.add(
                entry.index,
                "evidence",
                f"{entry.label}: the day's scores were altered "
                f"({now[0]} rows now, {fields.get('rows')} recorded)",
            )


def _check_action(entry: Entry, row: dict[str, Any] | None, report: VerifyReport) -> None:
    fields = entry.fields()
    keys = ("time", "actor", "role", "action", "target", "row_hash")
    if row is None or any(str(row[k]) != str(fields.get(k)) for k in keys):
        state = "deleted" if row is None else "edited"
        report.add(entry.index, "evidence", f"{entry.label}: the audit row was {state}")


def _check_copy(entry: Entry, row: dict[str, Any] | None, report: VerifyReport) -> None:
    fields = entry.fields()
    expected = {k: fields.get(k) for k in ("doc_id", "recipient", "issued", "sha256")}
    if row is None or {k: row[k] for k in expected} != expected:
        state = "deleted" if row is None else "edited"
        report.add(entry.index, "evidence", f"{entry.label}: the copy's record was {state}")


def _check_batch(
    store: Store,
    entry: Entry,
    fields: dict[str, Any],
    row: tuple[Any, ...] | None,
    report: VerifyReport,
) -> None:
    if row is None:
        report.add(entry.index, "evidence", f"{entry.label}: the batch was deleted from `batches`")
        return
    stored = (str(row[2]), int(row[5]), int(row[1]), int(row[3]), int(row[4]))
    names = ("file", "rows", "source_id", "first_line", "last_line")
    recorded = tuple(fields.get(name) for name in names)
    if stored != recorded:
        report.add(entry.index, "evidence", f"{entry.label}: its `batches` row was edited")
        return
    path = store.root / str(row[2])
    if not path.exists():
        report.add(entry.index, "evidence", f"{entry.label}: {row[2]} was deleted")
    elif file_sha256(path) != fields.get("sha256"):
        report.add(entry.index, "evidence", f"{entry.label}: {row[2]} was altered")
