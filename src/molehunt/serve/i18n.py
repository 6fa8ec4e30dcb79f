"""Message catalogues (English, Simplified Chinese), locale choice, dates and numbers per locale."""

from __future__ import annotations

import json
from datetime import date
from functools import cache
from importlib import resources
from typing import Any

LOCALES = ("en", "zh-CN")
DEFAULT_LOCALE = "en"
LOCALE_COOKIE = "molehunt_lang"
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


@cache
def catalogue(locale: str) -> dict[str, str]:
    """Return the messages of a locale (`locales/<locale>.json`)."""
    path = resources.files("molehunt.serve") / "locales" / f"{locale}.json"
    messages: dict[str, str] = json.loads(path.read_text(encoding="utf-8"))
    return messages


def choose_locale(explicit: str | None, cookie: str | None, accept_language: str | None) -> str:
    """Pick the locale: an explicit switch, then the cookie, then `Accept-Language`.

    Examples:
        >>> choose_locale(None, None, "zh-CN,zh;q=0.9,en;q=0.8")
        'zh-CN'
        >>> choose_locale(None, None, "de-DE,en;q=0.5")
        'en'
    """
    for candidate in (explicit, cookie):
        if candidate in LOCALES:
            return str(candidate)
    weighted: list[tuple[float, str]] = []
    for part in (accept_language or "").split(","):
        tag, _, params = part.strip().partition(";")
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                quality = 0.0
        weighted.append((quality, tag.strip().lower()))
    for _, tag in sorted(weighted, key=lambda item: -item[0]):
        if tag.startswith("zh"):
            return "zh-CN"
        if tag.startswith("en"):
            return "en"
    return DEFAULT_LOCALE


@cache
def rule_titles(locale: str) -> dict[str, str]:
    """Return rule id -> title in a locale (`locales/rules.<locale>.json`; empty when none)."""
    path = resources.files("molehunt.serve") / "locales" / f"rules.{locale}.json"
    if not path.is_file():
        return {}
    titles: dict[str, str] = json.loads(path.read_text(encoding="utf-8"))
    return titles


class Translator:
    """Messages, dates and numbers of one locale, for templates.

    Args:
        locale: One of `LOCALES`.
    """

    def __init__(self, locale: str) -> None:
        self.locale = locale
        self._messages = catalogue(locale)
        self._fallback = catalogue(DEFAULT_LOCALE)

    def __call__(self, key: str, **values: Any) -> str:
        """Return the message `key` with `{name}` placeholders filled in."""
        text = self._messages.get(key) or self._fallback.get(key) or key
        return text.format(**values) if values else text

    def rule(self, rule_id: str, title: str) -> str:
        """Return a rule's title in this locale, or its own (English) title when untranslated."""
        return rule_titles(self.locale).get(rule_id, title)

    def date(self, value: date | str | None) -> str:
        """Format a day: `3 Feb 2010` in English, `2010年2月3日` in Chinese."""
        if value is None:
            return ""
        day = date.fromisoformat(value[:10]) if isinstance(value, str) else value
        if self.locale == "zh-CN":
            return f"{day.year}年{day.month}月{day.day}日"
        return f"{day.day} {_MONTHS[day.month - 1]} {day.year}"

    def number(self, value: float | int | None, digits: int = 0) -> str:
        """Format a number with grouping (both locales group by thousands with commas)."""
        if value is None:
            return "–"
        return f"{value:,.{digits}f}"
