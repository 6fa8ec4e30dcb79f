"""Message catalogues: the same keys in every language, and every key a template uses exists."""

from __future__ import annotations

import re
from importlib import resources

import pytest

from molehunt.detect import list_rules
from molehunt.serve.i18n import LOCALES, Translator, catalogue, choose_locale, rule_titles

TEMPLATES = resources.files("molehunt.serve") / "templates"


def test_catalogues_have_the_same_keys() -> None:
    english = set(catalogue("en"))
    for locale in LOCALES:
        assert set(catalogue(locale)) == english, f"{locale} differs from en"


def test_every_key_used_in_templates_exists() -> None:
    used: set[str] = set()
    for template in TEMPLATES.iterdir():
        used |= set(re.findall(r"""t\(["']([a-z_]+\.[a-z_0-9]+)["']""", template.read_text()))
    assert used and used <= set(catalogue("en")), sorted(used - set(catalogue("en")))


@pytest.mark.parametrize(
    ("explicit", "cookie", "header", "expected"),
    [
        (None, None, "zh-TW,zh;q=0.9", "zh-CN"),
        (None, None, "en-GB,zh;q=0.5", "en"),
        (None, None, "fr", "en"),
        (None, "zh-CN", "en", "zh-CN"),
        ("en", "zh-CN", "zh", "en"),
        ("xx", None, "zh", "zh-CN"),
    ],
)
def test_choose_locale(
    explicit: str | None, cookie: str | None, header: str, expected: str
) -> None:
    assert choose_locale(explicit, cookie, header) == expected


def test_dates_and_numbers_per_locale() -> None:
    assert Translator("en").date("2010-03-19") == "19 Mar 2010"
    assert Translator("zh-CN").date("2010-03-19") == "2010年3月19日"
    assert Translator("zh-CN").number(12345.678, 1) == "12,345.7"


def test_translated_rule_titles_name_rules_that_exist() -> None:
    known = {rule.id for rule in list_rules()}
    stale = sorted(set(rule_titles("zh-CN")) - known)
    assert not stale, f"Chinese titles of rules that no longer exist: {stale}"
    assert Translator("zh-CN").rule("need-to-know-violation", "x") == "在知悉范围之外打开涉密文件"
    assert Translator("zh-CN").rule("a-new-rule", "A new rule") == "A new rule", "English fallback"
    assert Translator("en").rule("need-to-know-violation", "Opened") == "Opened"
