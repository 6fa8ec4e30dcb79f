"""`molehunt trace`: which document a leaked text comes from, and whose copy it was.

1. document: the leaked text's 5-token shingles against each marked original's; the share
   found (containment) names the document (any fragment of a few sentences suffices);
2. sites: each variant site in the leaked text is placed in the original by the 4 tokens on
   its left or on its right (ambiguous contexts are dropped); it shows bit 0 (the original's
   wording) or 1 (the alternative) at that site;
3. recipients: each copy's bits are recomputed from its mark id; m of the n observed bits
   agree. For a copy that did not leak, each agreement is a fair coin, so
   p = P[Binomial(n, 1/2) >= m]; confidence = 1 - min(1, p x copies) (Bonferroni over
   every copy of the document). A copy is named when confidence >= 0.999, which bounds a
   wrong attribution at 0.1% per trace;
4. merges: the observations the named copy disagrees with are scored again, for every other
   copy, the same way; a second (third...) copy named there took part in a merged leak.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from molehunt.errors import TraceError
from molehunt.store import Store
from molehunt.trace.mark import MARKS_DIR, copy_bits, find_sites
from molehunt.trace.text import normalize, scanner, shingles

CONFIDENCE_THRESHOLD = 0.999
CONTEXT = 4
MIN_CONTAINMENT = 0.2


def log10_tail(matches: int, n: int) -> float:
    """log10 P[Binomial(n, 1/2) >= matches], exact.

    Examples:
        >>> round(log10_tail(10, 10), 3)
        -3.01
    """
    if matches <= 0:
        return 0.0
    numerator = sum(math.comb(n, i) for i in range(matches, n + 1))
    return (math.log2(numerator) - n) * math.log10(2)


@dataclass(frozen=True)
class Candidate:
    """A recipient a leak may have come from.

    Args:
        recipient: Who was issued the copy.
        mark_id: The copy.
        matches: Observed bits that agree with the copy.
        observed: Observed bits.
        log10_p: log10 of the chance a copy that did not leak agrees this well.
        confidence: 1 - min(1, p x copies).
    """

    recipient: str
    mark_id: str
    matches: int
    observed: int
    log10_p: float
    confidence: float

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready mapping."""
        return {
            "recipient": self.recipient,
            "mark_id": self.mark_id,
            "matches": self.matches,
            "observed": self.observed,
            "log10_p": round(self.log10_p, 2),
            "confidence": self.confidence,
        }


@dataclass
class TraceReport:
    """What `trace_text` found.

    Args:
        documents: (doc_id, name, level, containment) of matching documents, best first.
        sites: Marked sites observed in the leak.
        candidates: Best-ranked copies of the best document.
        attributed: Copies named with confidence >= the threshold (two or more: a merge).
    """

    documents: list[dict[str, Any]] = field(default_factory=list)
    sites: int = 0
    candidates: list[Candidate] = field(default_factory=list)
    attributed: list[Candidate] = field(default_factory=list)

    @property
    def is_merge(self) -> bool:
        """Whether two or more copies were named."""
        return len(self.attributed) > 1

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready mapping."""
        return {
            "documents": self.documents,
            "sites_observed": self.sites,
            "threshold": CONFIDENCE_THRESHOLD,
            "attributed": [c.to_dict() for c in self.attributed],
            "merge": self.is_merge,
            "candidates": [c.to_dict() for c in self.candidates],
        }


@dataclass
class _Document:
    doc_id: str
    name: str
    level: str | None
    language: str
    tokens: list[str]
    sites: list[tuple[int, int]]  # token position, variant class
    variants: list[tuple[int, int]]
    markable: list[bool]


_DOCUMENTS: dict[str, _Document] = {}
_CODES: dict[tuple[str, str], np.ndarray[Any, Any]] = {}


def _code(doc_id: str, mark_id: str, count: int) -> np.ndarray[Any, Any]:
    if (doc_id, mark_id) not in _CODES:
        _CODES[(doc_id, mark_id)] = copy_bits(doc_id, mark_id, count)
    return _CODES[(doc_id, mark_id)]


def _load_documents(store: Store) -> list[_Document]:
    rows = store.query_dicts("SELECT doc_id, name, format, language, level FROM marked_documents")
    documents = []
    for row in rows:
        if row["doc_id"] in _DOCUMENTS:  # doc ids are content hashes: a cached parse stays true
            documents.append(_DOCUMENTS[row["doc_id"]])
            continue
        matches = list((store.root / MARKS_DIR).glob(f"{row['doc_id']}.*"))
        if not matches:
            raise TraceError(f"the original of {row['name']} is missing from {MARKS_DIR}/")
        text = matches[0].read_bytes().decode("utf-8-sig")
        sites = find_sites(text, row["language"], row["format"] == "markdown")
        tokens, found = scanner(row["language"]).scan(normalize(text))
        _DOCUMENTS[row["doc_id"]] = _Document(
            row["doc_id"],
            row["name"],
            row["level"],
            row["language"],
            tokens,
            [(m.token, m.class_id) for m in found],
            [(s.original, s.alternative) for s in sites],
            [s.markable for s in sites],
        )
        documents.append(_DOCUMENTS[row["doc_id"]])
    return documents


def _observe(document: _Document, leak_text: str) -> list[tuple[int, int]]:
    """(site number, bit) for every marked site found in the leak."""
    index: dict[tuple[str, tuple[str, ...]], int] = {}
    tokens = document.tokens
    for number, (position, _) in enumerate(document.sites):
        for key in (
            ("L", tuple(tokens[max(position - CONTEXT, 0) : position])),
            ("R", tuple(tokens[position + 1 : position + 1 + CONTEXT])),
        ):
            if len(key[1]) == CONTEXT:
                index[key] = -1 if key in index else number
    leak_tokens, leak_sites = scanner(document.language).scan(normalize(leak_text))
    observed = []
    for site in leak_sites:
        p = site.token
        left = index.get(("L", tuple(leak_tokens[max(p - CONTEXT, 0) : p])), -1)
        right = index.get(("R", tuple(leak_tokens[p + 1 : p + 1 + CONTEXT])), -1)
        if left >= 0 and right >= 0 and left != right:
            continue
        number = max(left, right)
        if number < 0 or number >= len(document.variants) or not document.markable[number]:
            continue
        if document.sites[number][1] != site.class_id:
            continue
        original, alternative = document.variants[number]
        if site.variant in (original, alternative):
            observed.append((number, int(site.variant == alternative)))
    return observed


def trace_text(store: Store, leak_text: str, top: int = 5) -> TraceReport:
    """Trace a leaked text (a whole copy, an excerpt, a retyped fragment, a merge).

    Args:
        store: The workspace.
        leak_text: The leaked text.
        top: How many candidate copies to list.

    Returns:
        The report (no attribution when nothing reaches the confidence threshold).

    Raises:
        TraceError: The workspace holds no marked document.
    """
    documents = _load_documents(store)
    if not documents:
        raise TraceError(
            "no marked documents in this workspace (issue copies with `molehunt mark`)"
        )
    report = TraceReport()
    ranked = []
    for document in documents:
        leak_tokens, _ = scanner(document.language).scan(normalize(leak_text))
        leak_shingles = shingles(leak_tokens)
        if not leak_shingles:
            continue
        containment = len(leak_shingles & shingles(document.tokens)) / len(leak_shingles)
        ranked.append((containment, document))
    ranked.sort(key=lambda item: -item[0])
    report.documents = [
        {"doc_id": d.doc_id, "name": d.name, "level": d.level, "containment": round(c, 3)}
        for c, d in ranked
        if c >= MIN_CONTAINMENT
    ]
    if not report.documents:
        return report
    best = ranked[0][1]
    observed = _observe(best, leak_text)
    report.sites = len(observed)
    copies = store.query(
        "SELECT mark_id, recipient FROM marked_copies WHERE doc_id = ? ORDER BY mark_id",
        [best.doc_id],
    )
    if not observed or not copies:
        return report
    numbers = np.array([n for n, _ in observed])
    bits = np.array([b for _, b in observed], dtype=np.int8)
    codes = np.stack([_code(best.doc_id, m, len(best.variants))[numbers] for m, _ in copies])
    agree = codes == bits
    report.candidates = _rank(agree, copies, np.ones(len(bits), dtype=bool), top)
    mask = np.ones(len(bits), dtype=bool)
    while report.candidates and len(report.attributed) < 4:
        best_here = _rank(agree, copies, mask, 1)
        if not best_here or best_here[0].confidence < CONFIDENCE_THRESHOLD:
            break
        report.attributed.append(best_here[0])
        row = next(i for i, (m, _) in enumerate(copies) if m == best_here[0].mark_id)
        # The rest of a merge sits where the named copy disagrees: from its first disagreement
        # to its last, in the leak's order (a pasted excerpt is one stretch).
        disagree = np.flatnonzero(mask & ~agree[row])
        if len(disagree) == 0:
            break
        stretch = np.zeros(len(bits), dtype=bool)
        stretch[disagree[0] : disagree[-1] + 1] = True
        mask &= stretch
    return report


def _rank(
    agree: np.ndarray[Any, Any], copies: list[tuple[Any, ...]], mask: np.ndarray[Any, Any], top: int
) -> list[Candidate]:
    observed = int(mask.sum())
    if observed == 0:
        return []
    matches = (agree & mask).sum(axis=1)
    order = np.argsort(-matches, kind="stable")[:top]
    found = []
    for row in order:
        m = int(matches[row])
        log10_p = log10_tail(m, observed)
        corrected = min(1.0, 10**log10_p * len(copies))
        mark_id, recipient = copies[row]
        found.append(
            Candidate(str(recipient), str(mark_id), m, observed, log10_p, round(1 - corrected, 6))
        )
    return found


def read_leak(path: Path) -> str:
    """Read a leaked file as text (UTF-8; DOCX and PDF are not supported yet).

    Raises:
        TraceError: Unreadable or unsupported file.
    """
    if path.suffix.lower() in (".docx", ".pdf", ".doc"):
        raise TraceError(
            f"{path}: DOCX and PDF leaks are not supported yet; extract the text first"
        )
    try:
        return path.read_bytes().decode("utf-8-sig", errors="replace")
    except OSError as error:
        raise TraceError(f"{path}: cannot read: {error.strerror}") from error
