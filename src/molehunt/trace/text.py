"""Text as the tracer sees it: normalised, cut into tokens, with the variant sites found.

Normalising undoes what retyping, copying or OCR changes anyway: Unicode NFKC, format and
zero-width characters removed, typographic quotes and dashes made ASCII, lower case, whitespace
collapsed. Tokens are words (Latin letters and digits) and single CJK characters; a site is
replaced by one token naming its variant class, so that the token stream reads the same in every
recipient's copy and leaked text can be aligned to the original by its neighbouring tokens.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import cache

from molehunt.trace.variants import VARIANT_CLASSES, VariantClass

_TYPOGRAPHY = str.maketrans(
    {"\u2018": "'", "\u2019": "'", "\u201c": '"', "\u201d": '"', "\u2013": "-", "\u2014": "-"}
)
_CJK = "\u3400-\u4dbf\u4e00-\u9fff"
_WORD = re.compile(rf"[{_CJK}]|[^\W_{_CJK}]+")
# Markdown that must stay byte-identical: code, link targets, URLs, HTML tags.
_PROTECTED = re.compile(r"```.*?```|`[^`\n]*`|\]\([^)]*\)|https?://\S+|<[^>\n]*>", re.DOTALL)


def normalize(text: str) -> str:
    """Return text as compared by the tracer.

    Args:
        text: Any text.

    Returns:
        NFKC, without format characters, ASCII quotes and dashes, lower case, single spaces.

    Examples:
        >>> normalize("Don\u2019t\u200b  STOP\\n")
        "don't stop"
    """
    text = unicodedata.normalize("NFKC", text).translate(_TYPOGRAPHY)
    text = "".join(ch for ch in text if unicodedata.category(ch) != "Cf")
    return " ".join(text.lower().split())


@dataclass(frozen=True)
class SiteMatch:
    """One occurrence of a variant in a text.

    Args:
        start: Start offset in the scanned text.
        end: End offset.
        class_id: Index of the variant class.
        variant: Index of the variant within its class.
        token: Position of the site's token in the token stream.
    """

    start: int
    end: int
    class_id: int
    variant: int
    token: int


@dataclass(frozen=True)
class Scanner:
    """Finds variant sites and tokens for one language.

    Args:
        language: `en` or `zh`.
        classes: The variant classes.
        pattern: One regex: sites first (longest variant first), then words.
        lookup: Normalised variant text -> (class id, variant index).
    """

    language: str
    classes: tuple[VariantClass, ...]
    pattern: re.Pattern[str]
    lookup: dict[str, tuple[int, int]]

    def scan(self, text: str) -> tuple[list[str], list[SiteMatch]]:
        """Return the token stream of `text` and its sites (case-insensitive).

        Args:
            text: Raw or normalised text.

        Returns:
            Tokens (a site is `§<class id>`) and the sites in order.
        """
        tokens: list[str] = []
        sites: list[SiteMatch] = []
        for match in self.pattern.finditer(text):
            if match.lastgroup == "site":
                key = " ".join(match.group().lower().split())
                class_id, variant = self.lookup[key]
                sites.append(SiteMatch(match.start(), match.end(), class_id, variant, len(tokens)))
                tokens.append(f"\u00a7{class_id}")
            else:
                tokens.append(match.group().lower())
        return tokens, sites


@cache
def scanner(language: str) -> Scanner:
    """Return the (cached) scanner of a language.

    Args:
        language: A key of `VARIANT_CLASSES` (`en`, `zh`).

    Returns:
        The scanner.
    """
    classes = VARIANT_CLASSES[language]
    lookup = {
        variant: (class_id, index)
        for class_id, group in enumerate(classes)
        for index, variant in enumerate(group.variants)
    }
    alternatives = []
    for variant in sorted(lookup, key=len, reverse=True):
        body = r"\s+".join(re.escape(part) for part in variant.split(" "))
        if variant.isascii():  # whole words only (a variant may start or end with punctuation)
            body = (r"(?<!\w)" if variant[0].isalnum() else "") + body
            body += r"(?!\w)" if variant[-1].isalnum() else ""
        alternatives.append(body)
    pattern = re.compile(
        f"(?P<site>{'|'.join(alternatives)})|(?P<word>{_WORD.pattern})", re.IGNORECASE
    )
    return Scanner(language, classes, pattern, lookup)


def detect_language(text: str) -> str:
    """Return `zh` when CJK characters make up a fifth of the letters, else `en`."""
    letters = [ch for ch in text[:20000] if ch.isalpha()]
    cjk = sum(1 for ch in letters if "\u3400" <= ch <= "\u9fff")
    return "zh" if letters and cjk * 5 >= len(letters) else "en"


def protected_spans(text: str, markdown: bool) -> list[tuple[int, int]]:
    """Spans of a Markdown text that must not change (code, link targets, URLs, HTML)."""
    if not markdown:
        return []
    return [(m.start(), m.end()) for m in _PROTECTED.finditer(text)]


def shingles(tokens: list[str], size: int = 5) -> set[int]:
    """Hashes of every run of `size` tokens (document fingerprint)."""
    return {hash(tuple(tokens[i : i + size])) for i in range(max(len(tokens) - size + 1, 0))}


def apply_case(template: str, replacement: str) -> str:
    """Give `replacement` the capitalisation of `template` (Upper, UPPER or lower).

    Examples:
        >>> apply_case("Organise", "organize")
        'Organize'
    """
    letters = [ch for ch in template if ch.isalpha()]
    if len(letters) > 1 and all(ch.isupper() for ch in letters):
        return replacement.upper()
    if letters and template.lstrip()[:1].isupper():
        return replacement[:1].upper() + replacement[1:]
    return replacement
