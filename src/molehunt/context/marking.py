"""Classification markings in file names and content: `SECRET//NOFORN`, `TOP SECRET`, `绝密`.

The patterns are built from the scales in force, so a custom scale's levels are found as
markings too. Latin-script markings are upper case by convention and must stand as whole
words (`SECRETARY` and the keyword `classified` are not markings); one- or two-letter
abbreviations count only in banner form (`TS//SCI`, `S//NF`, `C//REL`). CJK markings (`机密`,
`机密★10年`) need no word boundary. Rank-0 CJK words (`公开`, `内部`) are ordinary words in
prose and are not taken as markings. The same patterns run in Python (`marking_rank`) and in
DuckDB (`marking_rank_sql`, RE2); tests check that both agree.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

_BEFORE = "(^|[^A-Za-z0-9])"
_AFTER = "([^A-Za-z0-9]|$)"
_SPECIAL = set(".^$*+?()[]{}|\\/")


def _escape(text: str) -> str:
    """Escape regex metacharacters the same way for Python `re` and RE2."""
    return "".join("\\" + c if c in _SPECIAL else c for c in text)


def _word_pattern(key: str, rank: int) -> str | None:
    if not key.isascii():
        return None if rank == 0 else _escape(key)
    compact = key.replace(" ", "")
    if len(compact) <= 2:
        return _BEFORE + _escape(compact) + "//"
    words = [_escape(word) for word in key.split(" ")]
    return _BEFORE + "[ _-]?".join(words) + _AFTER


def marking_patterns(lookup: Mapping[str, int]) -> list[tuple[int, str]]:
    """Return (rank, regex) pairs, highest rank first, for a level lookup table.

    Args:
        lookup: Normalised level name -> canonical rank (`scale.level_lookup`).

    Returns:
        One alternation per rank that has markable names; the first match wins.
    """
    by_rank: dict[int, list[str]] = {}
    # Longest names first, so `TOP SECRET` is tried before `SECRET` inside one alternation.
    for key, rank in sorted(lookup.items(), key=lambda item: -len(item[0])):
        pattern = _word_pattern(key, rank)
        if pattern is not None:
            by_rank.setdefault(rank, []).append(pattern)
    return [(rank, "|".join(by_rank[rank])) for rank in sorted(by_rank, reverse=True)]


def marking_rank(text: str | None, lookup: Mapping[str, int]) -> int | None:
    """Return the highest classification marked in `text`, or None when it carries no marking.

    Args:
        text: A file name or content.
        lookup: Normalised level name -> canonical rank.

    Returns:
        The canonical rank of the highest marking found.

    Examples:
        >>> from molehunt.context.scale import level_lookup, scales
        >>> marking_rank("report SECRET//NOFORN.doc", level_lookup(scales.values()))
        2
    """
    if not text:
        return None
    for rank, pattern in marking_patterns(lookup):
        if re.search(pattern, text):
            return rank
    return None


def marking_rank_sql(column: str, lookup: Mapping[str, int]) -> str:
    """Return a DuckDB expression giving the highest rank marked in `column` (NULL if none).

    Args:
        column: A SQL expression of type VARCHAR.
        lookup: Normalised level name -> canonical rank.

    Returns:
        A CASE expression.
    """
    patterns = marking_patterns(lookup)
    if not patterns:
        return "NULL::INTEGER"
    whens = " ".join(
        f"WHEN regexp_matches({column}, {_sql_string(pattern)}) THEN {rank}"
        for rank, pattern in patterns
    )
    return f"(CASE {whens} ELSE NULL END)::INTEGER"


def _sql_string(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"
