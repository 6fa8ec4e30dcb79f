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

import bisect
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from molehunt.errors import TraceError
from molehunt.store import Store
from molehunt.trace.formats import FORMATS, extract_text
from molehunt.trace.leavers import leavers_holding
from molehunt.trace.mark import MARKS_DIR, check_scheme, copy_bits, document_sites
from molehunt.trace.text import normalize, scanner, shingles

CONFIDENCE_THRESHOLD = 0.999
ANCHOR = 8
MAX_REPEATS = 8
WINDOW = 40
JUMP = 20  # tokens: a larger change of alignment starts a new stretch of a merge
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
        leavers: Sealed leaver records that list the best document or one of its copies.
    """

    documents: list[dict[str, Any]] = field(default_factory=list)
    sites: int = 0
    candidates: list[Candidate] = field(default_factory=list)
    attributed: list[Candidate] = field(default_factory=list)
    leavers: list[dict[str, Any]] = field(default_factory=list)

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
            "leavers": self.leavers,
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
    anchors: dict[int, list[int]] = field(default_factory=dict)
    site_at: dict[int, int] = field(default_factory=dict)


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
        folder = store.root / MARKS_DIR
        check_scheme(folder / f"{row['doc_id']}.json", row["name"])
        if row["doc_id"] in _DOCUMENTS:  # doc ids are content hashes: a cached parse stays true
            documents.append(_DOCUMENTS[row["doc_id"]])
            continue
        matches = [p for p in folder.glob(f"{row['doc_id']}.*") if p.suffix != ".json"]
        if not matches:
            raise TraceError(f"the original of {row['name']} is missing from {MARKS_DIR}/")
        data = matches[0].read_bytes()
        text = extract_text(data, row["format"], str(matches[0]))
        sites = document_sites(data, text, row["format"], row["language"], str(matches[0]))
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
        document = _DOCUMENTS[row["doc_id"]]
        document.anchors = _anchor_index(tokens)
        document.site_at = {position: number for number, (position, _) in enumerate(document.sites)}
        documents.append(document)
    return documents


def _anchor_index(tokens: list[str]) -> dict[int, list[int]]:
    """Positions of every run of ANCHOR tokens (runs seen more than MAX_REPEATS times: none)."""
    index: dict[int, list[int]] = {}
    for position in range(len(tokens) - ANCHOR + 1):
        index.setdefault(hash(tuple(tokens[position : position + ANCHOR])), []).append(position)
    return {key: found for key, found in index.items() if len(found) <= MAX_REPEATS}


def _observe(document: _Document, leak_text: str) -> list[tuple[int, int, int]]:
    """(site number, bit, offset) for every marked site found in the leak, in the leak's order.

    Class tokens read the same in every copy, so a leaked stretch is a stretch of the
    original's token stream: runs of ANCHOR tokens vote for the offset between the two, and each
    site takes the offset most voted for within WINDOW tokens of it (a merge or a gap moves it).
    """
    leak_tokens, leak_sites = scanner(document.language).scan(normalize(leak_text))
    anchors: list[tuple[int, int, float]] = []
    for position in range(len(leak_tokens) - ANCHOR + 1):
        found = document.anchors.get(hash(tuple(leak_tokens[position : position + ANCHOR])))
        for target in found or ():
            anchors.append((position, target - position, 1.0 / len(found or ())))
    starts = [position for position, _, _ in anchors]
    observed = []
    for site in leak_sites:
        votes: dict[int, float] = {}
        low = bisect.bisect_left(starts, site.token - WINDOW - ANCHOR)
        high = bisect.bisect_right(starts, site.token + WINDOW)
        for _, offset, weight in anchors[low:high]:
            votes[offset] = votes.get(offset, 0.0) + weight
        if not votes:
            continue
        offset = max(votes, key=lambda key: votes[key])
        number = document.site_at.get(site.token + offset)
        if number is None or not document.markable[number]:
            continue
        if document.sites[number][1] != site.class_id:
            continue
        original, alternative = document.variants[number]
        if site.variant in (original, alternative):
            observed.append((number, int(site.variant == alternative), offset))
    return observed


def _segments(observed: list[tuple[int, int, int]]) -> list[int]:
    """A segment number per observation: a new one wherever the alignment jumps (a pasted
    excerpt from elsewhere in the document), not at the small shifts OCR noise causes."""
    segment, numbers = 0, []
    for position, (_, _, offset) in enumerate(observed):
        if position and abs(offset - observed[position - 1][2]) > JUMP:
            segment += 1
        numbers.append(segment)
    return numbers


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
    report.leavers = leavers_holding(store, best.doc_id)
    observed = _observe(best, leak_text)
    report.sites = len(observed)
    copies = store.query(
        "SELECT mark_id, recipient FROM marked_copies WHERE doc_id = ? ORDER BY mark_id",
        [best.doc_id],
    )
    if not observed or not copies:
        return report
    numbers = np.array([n for n, _, _ in observed])
    bits = np.array([b for _, b, _ in observed], dtype=np.int8)
    codes = np.stack([_code(best.doc_id, m, len(best.variants))[numbers] for m, _ in copies])
    agree = codes == bits
    segments = np.array(_segments(observed))
    count = int(segments.max()) + 1
    # Every test below is one more chance of a wrong name: Bonferroni over all of them.
    tests = 1 + (count if count > 1 else 0)
    everything = np.ones(len(bits), dtype=bool)
    report.candidates = _rank(agree, copies, everything, top, tests)
    _attribute_merge(report, agree, copies, everything, tests)
    if count > 1:  # a merge of excerpts from different places: each stretch on its own
        for segment in range(count):
            found = _rank(agree, copies, segments == segment, 1, tests)
            named = {c.mark_id for c in report.attributed}
            if found and found[0].confidence >= CONFIDENCE_THRESHOLD:
                if found[0].mark_id not in named:
                    report.attributed.append(found[0])
    return report


def _attribute_merge(
    report: TraceReport,
    agree: np.ndarray[Any, Any],
    copies: list[tuple[Any, ...]],
    mask: np.ndarray[Any, Any],
    tests: int,
) -> None:
    """Name the best copy, then look for another where it disagrees, and so on (up to 4)."""
    while len(report.attributed) < 4:
        best_here = _rank(agree, copies, mask, 1, tests)
        if not best_here or best_here[0].confidence < CONFIDENCE_THRESHOLD:
            return
        report.attributed.append(best_here[0])
        row = next(i for i, (m, _) in enumerate(copies) if m == best_here[0].mark_id)
        # The rest of a merge sits where the named copy disagrees: from its first disagreement
        # to its last, in the leak's order (a pasted excerpt is one stretch).
        disagree = np.flatnonzero(mask & ~agree[row])
        if len(disagree) == 0:
            return
        stretch = np.zeros(len(mask), dtype=bool)
        stretch[disagree[0] : disagree[-1] + 1] = True
        mask = mask & stretch


def _rank(
    agree: np.ndarray[Any, Any],
    copies: list[tuple[Any, ...]],
    mask: np.ndarray[Any, Any],
    top: int,
    tests: int = 1,
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
        corrected = min(1.0, 10**log10_p * len(copies) * tests)
        mark_id, recipient = copies[row]
        found.append(
            Candidate(str(recipient), str(mark_id), m, observed, log10_p, round(1 - corrected, 6))
        )
    return found


def read_leak(path: Path) -> str:
    """Read a leaked file's text: UTF-8 text (invalid bytes replaced), DOCX, or a PDF's text layer.

    Raises:
        TraceError: Unreadable file, or a DOCX/PDF without the `documents` extra.
    """
    try:
        data = path.read_bytes()
    except OSError as error:
        raise TraceError(f"{path}: cannot read: {error.strerror}") from error
    file_format = FORMATS.get(path.suffix.lower(), "text")
    if file_format in ("docx", "pdf"):
        return extract_text(data, file_format, str(path))
    return data.decode("utf-8-sig", errors="replace")
