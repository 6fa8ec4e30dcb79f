"""`molehunt mark`: one imperceptibly different copy of a document per recipient.

A document's sites (places where an interchangeable wording occurs, `variants.py`) are numbered
in order. Each copy gets a random mark id; SHA-256(doc id ":" mark id) seeds the copy's bits, one
per site: 0 keeps the original wording, 1 uses the class's next variant. Any stretch of the text
therefore carries its own slice of the copy's code, and `trace` reads it back. Copies are recorded
in `marked_copies` and in the evidence ledger; the original is kept in `<workspace>/marks/`.
"""

from __future__ import annotations

import fnmatch
import hashlib
import json
import re
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from molehunt.errors import TraceError
from molehunt.ledger import record_marked_copies
from molehunt.store import Store
from molehunt.trace.formats import document_format, extract_text, run_boundaries, write_copy
from molehunt.trace.text import apply_case, detect_language, normalize, protected_spans, scanner
from molehunt.trace.variants import SCHEME

MARKS_DIR = "marks"
# Fewer places than this cannot tell 1,000 recipients apart from a fragment.
MIN_SITES = 24
_COPY_COLUMNS = ("mark_id", "doc_id", "recipient", "issued", "file_name", "sha256")


@dataclass(frozen=True)
class Site:
    """A markable place in the original text.

    Args:
        start: Start offset in the original text.
        end: End offset.
        class_id: Variant class.
        original: The variant the original uses.
        alternative: The variant bit 1 selects.
        markable: Whether copies may change it.
    """

    start: int
    end: int
    class_id: int
    original: int
    alternative: int
    markable: bool


def find_sites(
    text: str, language: str, markdown: bool, boundaries: Sequence[int] = ()
) -> list[Site]:
    """Return every site of a document, in the order `trace` numbers them.

    Args:
        text: The original text.
        language: `en` or `zh`.
        markdown: Keep code, link targets, URLs and HTML unchanged.
        boundaries: Offsets a site may not straddle (DOCX run ends).

    Returns:
        The sites; those a copy may not change have `markable` false.
    """
    scan = scanner(language)
    _, matches = scan.scan(text)
    _, normalized = scan.scan(normalize(text))
    protected = protected_spans(text, markdown)
    # The tracer numbers sites in the normalised text: from the first place where the two
    # numberings disagree (NFKC turned something into a variant, or out of one), stop marking.
    agreeing = next(
        (
            number
            for number, (raw, norm) in enumerate(zip(matches, normalized, strict=False))
            if (raw.class_id, raw.variant) != (norm.class_id, norm.variant)
        ),
        min(len(matches), len(normalized)),
    )
    sites = []
    for number, match in enumerate(matches):
        group = scan.classes[match.class_id]
        agrees = number < agreeing
        inside = any(a <= match.start < b for a, b in protected) or any(
            match.start < cut < match.end for cut in boundaries
        )
        markable = (
            agrees
            and not inside
            and not (group.from_first and match.variant != 0)
            and not is_name(text, match.start)
        )
        alternative = (match.variant + 1) % len(group.variants)
        sites.append(
            Site(match.start, match.end, match.class_id, match.variant, alternative, markable)
        )
    return sites


def is_name(text: str, start: int) -> bool:
    """Whether the word at `start` is capitalised inside a sentence: a name or a defined term
    ("Defence Research Centre", "this License"), which a copy must not respell.

    Examples:
        >>> is_name("The Defence Centre.", 4), is_name("Yes. Defence matters.", 5)
        (True, False)
    """
    if not text[start : start + 1].isupper():
        return False
    before = text[:start].rstrip(" \t\"'\u201c\u2018(")
    if not before or before.endswith("\n\n"):  # the text's or a paragraph's first word
        return False
    line = before[before.rfind("\n") + 1 :].strip()
    if re.fullmatch(r"#+|[-*+]|\d+[.)]", line):  # a heading's or a list item's first word
        return False
    return before.rstrip()[-1] not in ".!?:"


def copy_bits(doc_id: str, mark_id: str, count: int) -> npt.NDArray[np.int8]:
    """Return a copy's bit per site (deterministic in doc id and mark id).

    Args:
        doc_id: The document.
        mark_id: The copy.
        count: Number of sites.

    Returns:
        `count` bits.
    """
    seed = int.from_bytes(hashlib.sha256(f"{doc_id}:{mark_id}".encode()).digest()[:8], "big")
    return np.random.default_rng(seed).integers(0, 2, count, dtype=np.int8)


def render_copy(
    text: str,
    sites: list[Site],
    bits: npt.NDArray[np.int8],
    language: str,
    start: int = 0,
    end: int | None = None,
) -> str:
    """Return `text[start:end]` with each markable site whose bit is 1 changed to its variant.

    Args:
        text: The original text.
        sites: Its sites (`find_sites`).
        bits: The copy's bits, one per site.
        language: `en` or `zh`.
        start: Start of the stretch to render (a DOCX run).
        end: End of the stretch (default: the end of the text).

    Returns:
        The marked stretch.
    """
    end = len(text) if end is None else end
    classes = scanner(language).classes
    parts = []
    position = start
    for site, bit in zip(sites, bits, strict=True):
        if not (site.markable and bit and start <= site.start and site.end <= end):
            continue
        original = text[site.start : site.end]
        replacement = apply_case(original, classes[site.class_id].variants[site.alternative])
        if original[:1] in ",;" and replacement[:1].isalnum():
            replacement = " " + replacement  # "x, and y" -> "x and y", not "xand y"
        parts.append(text[position : site.start])
        parts.append(replacement)
        position = site.end
    parts.append(text[position:end])
    return "".join(parts)


def read_document(path: Path) -> tuple[bytes, str, str]:
    """Read a document to mark: (bytes, text, format).

    Raises:
        TraceError: Missing file, unsupported format, or unreadable content.
    """
    file_format = document_format(path)
    try:
        data = path.read_bytes()
    except OSError as error:
        raise TraceError(f"{path}: cannot read: {error.strerror}") from error
    return data, extract_text(data, file_format, str(path)), file_format


def document_sites(
    data: bytes, text: str, file_format: str, language: str, where: str
) -> list[Site]:
    """The sites of a document in any format (DOCX: a site may not span two runs)."""
    boundaries = run_boundaries(data, file_format, where)
    return find_sites(text, language, file_format == "markdown", boundaries)


def classification(store: Store, path: Path, sha256: str) -> str | None:
    """The document's level in the registry (by hash, path, name or glob), if registered."""
    tables = {row[0] for row in store.query("SHOW TABLES")}
    if "documents" not in tables:
        return None
    rows = store.query(
        "SELECT doc_key, match_kind, level, level_rank FROM documents ORDER BY level_rank DESC"
    )
    for key, kind, level, _ in rows:
        if (
            (kind == "hash" and str(key).lower() == sha256)
            or (kind == "name" and str(key).lower() == path.name.lower())
            or (kind == "path" and str(path).endswith(str(key)))
            or (kind == "glob" and fnmatch.fnmatch(path.name, str(key)))
        ):
            return str(level)
    return None


def mark_document(
    store: Store,
    path: Path,
    recipients: list[str],
    out: Path,
    now: datetime | None = None,
) -> list[dict[str, Any]]:
    """Write one marked copy of `path` per recipient into `out` and record each.

    Args:
        store: The workspace.
        path: The document (.txt or .md, UTF-8, English or Chinese).
        recipients: Who gets a copy (duplicates ignored).
        out: Output folder (created).
        now: Issue time (default: now, UTC).

    Returns:
        One mapping per copy: mark_id, recipient, file, sha256, level, sites.

    Raises:
        TraceError: Unsupported or unreadable document, or too few places to mark.
    """
    data, text, file_format = read_document(path)
    language = detect_language(text)
    sites = document_sites(data, text, file_format, language, str(path))
    markable = sum(site.markable for site in sites)
    if markable < MIN_SITES:
        raise TraceError(
            f"{path}: only {markable} places can be marked (need {MIN_SITES}); the document is "
            "too short or has too few interchangeable wordings"
        )
    sha256 = hashlib.sha256(data).hexdigest()
    doc_id = sha256[:16]
    level = classification(store, path, sha256)
    issued = (now or datetime.now(UTC)).replace(tzinfo=None)
    details = (sha256, file_format, language, level, markable, issued)
    _keep_original(store, doc_id, path, data, details)
    out.mkdir(parents=True, exist_ok=True)
    copies = []
    for recipient in dict.fromkeys(recipients):
        mark_id = secrets.token_hex(8)
        bits = copy_bits(doc_id, mark_id, len(sites))
        marked = render_copy(text, sites, bits, language)
        encoded = write_copy(
            data,
            file_format,
            marked,
            _stretch_marker(text, sites, bits, language),
            level,
            str(path),
        )
        target = out / f"{path.stem}-{_safe(recipient)}{path.suffix}"
        target.write_bytes(encoded)
        copies.append(
            {
                "mark_id": mark_id,
                "doc_id": doc_id,
                "recipient": recipient,
                "issued": issued,
                "file_name": str(target),
                "sha256": hashlib.sha256(encoded).hexdigest(),
                "level": level,
                "sites": markable,
            }
        )
    with store.transaction() as connection:
        for row in copies:
            connection.execute(
                "INSERT INTO marked_copies VALUES (?, ?, ?, ?, ?, ?)",
                [
                    row[k]
                    for k in ("mark_id", "doc_id", "recipient", "issued", "file_name", "sha256")
                ],
            )
    record_marked_copies(store)
    return copies


def check_scheme(sidecar: Path, name: str) -> None:
    """Refuse to mix or read copies marked under other variant lists.

    Raises:
        TraceError: The sidecar is unreadable or names another scheme.
    """
    try:
        scheme = json.loads(sidecar.read_text(encoding="utf-8")).get("scheme")
    except (OSError, ValueError) as error:
        raise TraceError(f"{sidecar}: cannot read the marking scheme of {name}") from error
    if scheme != SCHEME:
        raise TraceError(
            f"{name} was marked with variant scheme {scheme}; this molehunt uses {SCHEME} "
            "(use the molehunt version that marked it)"
        )


def _stretch_marker(
    text: str, sites: list[Site], bits: npt.NDArray[np.int8], language: str
) -> Callable[[int, str], str]:
    """rewrite(offset, stretch) for formats marked piece by piece (DOCX runs)."""

    def rewrite(offset: int, stretch: str) -> str:
        return render_copy(text, sites, bits, language, offset, offset + len(stretch))

    return rewrite


def _safe(name: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in name) or "recipient"


def _keep_original(
    store: Store,
    doc_id: str,
    path: Path,
    data: bytes,
    details: tuple[str, str, str, str | None, int, datetime],
) -> None:
    sha256, file_format, language, level, markable, issued = details
    folder = store.root / MARKS_DIR
    folder.mkdir(exist_ok=True)
    kept = folder / f"{doc_id}{path.suffix.lower()}"
    if not kept.exists():
        kept.write_bytes(data)
        scheme = {"scheme": SCHEME, "language": language, "format": file_format}
        (folder / f"{doc_id}.json").write_text(json.dumps(scheme), encoding="utf-8")
    else:
        check_scheme(folder / f"{doc_id}.json", path.name)
    with store.transaction() as connection:
        known = connection.execute("SELECT 1 FROM marked_documents WHERE doc_id = ?", [doc_id])
        if not known:
            connection.execute(
                "INSERT INTO marked_documents VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                [doc_id, path.name, sha256, file_format, language, level, markable, issued],
            )
