"""The identity-map CSV (`molehunt ingest identities FILE`): accounts, SIDs, addresses -> people.

One row per person (or per validity period of a person); every column but `person` is
optional, and a cell may hold several values separated by `;`:

    person,account,sid,email,host,ip,valid_from,valid_to,kind
    ASM0001,OFFSEC\\asmith;asmith,S-1-5-21-1-2-3-1104,alice.smith@offsec.example,PC-0042,10.1.4.0/24,2024-01-01,,person

The map is checked whole before anything is stored: a bad row is an error naming file:line
and the field, so a half-valid map never resolves half the people.
"""

from __future__ import annotations

import csv
import datetime
import ipaddress
import re
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa

from molehunt.errors import IngestError
from molehunt.store import Store

MAP_COLUMNS: tuple[str, ...] = (
    "person",
    "account",
    "sid",
    "email",
    "host",
    "ip",
    "valid_from",
    "valid_to",
    "kind",
)
"""The columns an identity map may have (`person` is required, in any order)."""

IDENTITY_TYPES: tuple[str, ...] = ("account", "sid", "email", "host", "ip")
KINDS: tuple[str, ...] = ("person", "service", "machine")
_SID = re.compile(r"^S-1-\d+(-\d+)+$", re.IGNORECASE)
_MAX_ERRORS = 20


@dataclass(frozen=True)
class IdentityRow:
    """One identity of one person, as stored in `identities`."""

    person: str
    kind: str
    identity_type: str
    identity: str
    valid_from: datetime.date | None
    valid_to: datetime.date | None
    line: int


def normalise_identity(identity_type: str, value: str) -> str:
    """Return the form an identity is looked up by (lower-case names, upper-case SIDs).

    Raises:
        ValueError: The value is not a valid identity of that type (the message says why).
    """
    text = value.strip()
    if identity_type == "sid":
        if not _SID.match(text):
            raise ValueError(
                f"'{text}' is not a SID (expected e.g. S-1-5-21-1004336348-1177238915-1104)"
            )
        return text.upper()
    if identity_type == "email":
        if text.count("@") != 1 or text.startswith("@") or text.endswith("@"):
            raise ValueError(f"'{text}' is not an e-mail address or UPN (expected name@domain)")
        return text.lower()
    if identity_type == "ip":
        return ";".join(_networks(text))
    if identity_type == "host":
        return text.lower()
    return text.lower()


def _networks(text: str) -> list[str]:
    try:
        if "-" in text:
            first, last = (ipaddress.ip_address(part.strip()) for part in text.split("-", 1))
            return [str(net) for net in ipaddress.summarize_address_range(first, last)]
        return [str(ipaddress.ip_network(text, strict=False))]
    except (ValueError, TypeError) as error:
        raise ValueError(
            f"'{text}' is not an IP address, CIDR range or first-last range "
            f"(expected e.g. 10.1.4.7, 10.1.4.0/24 or 10.1.4.10-10.1.4.40): {error}"
        ) from None


def _date(text: str, field: str) -> datetime.date | None:
    if not text.strip():
        return None
    try:
        return datetime.date.fromisoformat(text.strip())
    except ValueError:
        raise ValueError(f"'{text.strip()}' is not a date (expected YYYY-MM-DD)") from None


def parse_identity_map(path: Path) -> list[IdentityRow]:
    """Read and check a whole identity map.

    Args:
        path: The CSV file (UTF-8, header line first).

    Returns:
        One row per identity (a cell with several values gives several rows).

    Raises:
        IngestError: The file is missing or empty, the header lacks `person` or names an
            unknown column, or rows are bad: one line per bad row, each naming
            file:line, the field and what was expected.
    """
    if not path.is_file():
        raise IngestError(f"{path}: no such file; expected an identity-map CSV")
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as error:
        raise IngestError(f"{path}: not UTF-8 (byte {error.start + 1})") from None
    lines = text.splitlines()
    if not lines or not lines[0].strip():
        raise IngestError(f"{path}: file is empty; expected a header line with 'person'")
    header = [name.strip().lower() for name in next(csv.reader([lines[0]]))]
    unknown = [name for name in header if name not in MAP_COLUMNS]
    if unknown:
        raise IngestError(
            f"{path}:1: unknown column '{unknown[0]}' (expected some of {', '.join(MAP_COLUMNS)})"
        )
    if "person" not in header:
        raise IngestError(f"{path}:1: the header has no 'person' column")
    rows: list[IdentityRow] = []
    errors: list[str] = []
    for number, line in enumerate(lines[1:], start=2):
        if not line.strip():
            continue
        try:
            cells = next(csv.reader([line], strict=True))
        except csv.Error as error:
            errors.append(f"{path}:{number}: malformed CSV ({error})")
            continue
        if len(cells) != len(header):
            errors.append(
                f"{path}:{number}: expected {len(header)} fields as in the header, "
                f"found {len(cells)}"
            )
            continue
        record = dict(zip(header, cells, strict=True))
        try:
            rows.extend(_row(record, number))
        except _RowError as error:
            errors.append(f"{path}:{number}: field '{error.field}': {error.reason}")
    if errors:
        shown = errors[:_MAX_ERRORS]
        if len(errors) > _MAX_ERRORS:
            shown.append(f"{path}: {len(errors) - _MAX_ERRORS} more bad rows")
        raise IngestError("\n".join(shown))
    return rows


class _RowError(Exception):
    def __init__(self, field: str, reason: str) -> None:
        super().__init__(reason)
        self.field = field
        self.reason = reason


def _row(record: dict[str, str], number: int) -> list[IdentityRow]:
    person = record["person"].strip()
    if not person:
        raise _RowError("person", "empty (every row names the person's user id)")
    kind = (record.get("kind") or "").strip().lower() or "person"
    if kind not in KINDS:
        raise _RowError("kind", f"'{kind}' is not one of {', '.join(KINDS)}")
    dates: dict[str, datetime.date | None] = {}
    for field in ("valid_from", "valid_to"):
        try:
            dates[field] = _date(record.get(field) or "", field)
        except ValueError as error:
            raise _RowError(field, str(error)) from None
    start, end = dates["valid_from"], dates["valid_to"]
    if start is not None and end is not None and end < start:
        raise _RowError("valid_to", f"{end} is before valid_from {start}")
    rows: list[IdentityRow] = []
    for identity_type in IDENTITY_TYPES:
        for value in (record.get(identity_type) or "").split(";"):
            if not value.strip():
                continue
            try:
                normalised = normalise_identity(identity_type, value)
            except ValueError as error:
                raise _RowError(identity_type, str(error)) from None
            for item in normalised.split(";") if identity_type == "ip" else [normalised]:
                rows.append(IdentityRow(person, kind, identity_type, item, start, end, number))
    if not rows:
        rows.append(IdentityRow(person, kind, "account", person.lower(), start, end, number))
    return rows


def ingest_identities(store: Store, path: Path) -> tuple[int, int]:
    """Replace the workspace's identity map with the one in `path`.

    Args:
        store: The workspace.
        path: The identity-map CSV.

    Returns:
        (identities stored, distinct people: service and machine accounts not counted).

    Raises:
        IngestError: The map has bad rows (nothing is stored then).
    """
    rows = parse_identity_map(path)
    table = pa.table(
        {
            "person": pa.array([r.person for r in rows], pa.string()),
            "kind": pa.array([r.kind for r in rows], pa.string()),
            "identity_type": pa.array([r.identity_type for r in rows], pa.string()),
            "identity": pa.array([r.identity for r in rows], pa.string()),
            "valid_from": pa.array([r.valid_from for r in rows], pa.date32()),
            "valid_to": pa.array([r.valid_to for r in rows], pa.date32()),
            "source_path": pa.array([str(path)] * len(rows), pa.string()),
            "source_line": pa.array([r.line for r in rows], pa.int64()),
        }
    )
    store.register("molehunt_identity_map", table)
    try:
        with store.transaction() as connection:
            connection.execute("DELETE FROM identities")
            connection.execute("INSERT INTO identities SELECT * FROM molehunt_identity_map")
    finally:
        store.unregister("molehunt_identity_map")
    return len(rows), len({row.person for row in rows if row.kind == "person"})
