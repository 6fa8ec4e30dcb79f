"""Classification scales: built-in schemes map onto one ordered scale; custom scales load."""

from __future__ import annotations

from pathlib import Path

import pytest

from molehunt.context.marking import marking_rank, marking_rank_sql
from molehunt.context.scale import (
    NORMALIZE_SQL,
    ClassificationScale,
    level_lookup,
    load_scales,
    normalize_level,
    scales,
)
from molehunt.errors import ConfigError
from molehunt.store import Store

LOOKUP = level_lookup(scales.values())


@pytest.mark.parametrize(
    ("scale", "text", "rank"),
    [
        ("us", "UNCLASSIFIED", 0),
        ("us", "U//FOUO", 0),
        ("us", "Confidential", 1),
        ("us", "C", 1),
        ("us", "SECRET//NOFORN", 2),
        ("us", "s", 2),
        ("us", "TOP SECRET", 3),
        ("us", "TOP SECRET//SCI", 3),
        ("us", "top_secret", 3),
        ("us", "TS", 3),
        ("cn", "公开", 0),
        ("cn", "内部", 0),
        ("cn", "秘密", 1),
        ("cn", "机密", 2),
        ("cn", "机密★10年", 2),
        ("cn", "绝密", 3),
    ],
)
def test_scale_rank_builtin_levels_map_to_canonical_rank(scale: str, text: str, rank: int) -> None:
    assert scales[scale].rank(text) == rank


@pytest.mark.parametrize(
    ("ours", "theirs"), [("CONFIDENTIAL", "秘密"), ("SECRET", "机密"), ("TOP SECRET", "绝密")]
)
def test_scale_us_and_cn_levels_are_mapped_onto_each_other(ours: str, theirs: str) -> None:
    assert scales["us"].rank(ours) == scales["cn"].rank(theirs)
    assert scales["cn"].level_name(scales["us"].rank(ours) or 0) == theirs


def test_scale_order_is_the_same_in_every_scheme() -> None:
    us = [scales["us"].rank(t) for t in ("UNCLASSIFIED", "CONFIDENTIAL", "SECRET", "TOP SECRET")]
    cn = [scales["cn"].rank(t) for t in ("公开", "秘密", "机密", "绝密")]
    assert us == cn == [0, 1, 2, 3]


@pytest.mark.parametrize(
    "text", ["TOP SECRET//SCI", " top_secret ", "机密★10年", "S//NF", "Official-Sensitive", ""]
)
def test_normalize_level_python_and_sql_agree(store: Store, text: str) -> None:
    sql = "SELECT " + NORMALIZE_SQL.format("?")
    assert store.query(sql, [text])[0][0] == normalize_level(text)


def test_load_scales_yaml_custom_scale_maps_and_round_trips(tmp_path: Path) -> None:
    path = tmp_path / "scales.yaml"
    path.write_text(
        "acme:\n  levels: {PUBLIC: 0, RESTRICTED: CONFIDENTIAL, CROWN JEWELS: 3}\n"
        "  aliases: {CJ: CROWN JEWELS}\n",
        encoding="utf-8",
    )
    acme = load_scales(path)["acme"]
    assert acme.rank("crown_jewels") == 3
    assert acme.rank("CJ") == 3
    assert acme.rank("RESTRICTED") == 1
    assert ClassificationScale.from_dict("acme", acme.to_dict()) == acme


def test_load_scales_json_file_is_read(tmp_path: Path) -> None:
    path = tmp_path / "scales.json"
    path.write_text('{"x": {"levels": {"OPEN": 0, "CLOSED": 2}}}', encoding="utf-8")
    assert load_scales(path)["x"].rank("closed") == 2


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ("x: {levels: {A: 7}}", "rank 7"),
        ("x: {levels: {A: HIGH}}", "maps to 'HIGH'"),
        ("x: {levels: {A: 1}, aliases: {B: C}}", "unknown level 'C'"),
        ("x: [1, 2]", "expected 'levels"),
        ("- just a list", "expected a mapping"),
    ],
)
def test_load_scales_malformed_entry_raises_config_error(
    tmp_path: Path, entry: str, message: str
) -> None:
    path = tmp_path / "scales.yaml"
    path.write_text(entry, encoding="utf-8")
    with pytest.raises(ConfigError, match=message):
        load_scales(path)


def test_level_lookup_conflicting_scales_raise_config_error() -> None:
    other = ClassificationScale("odd", (("SECRET", 3),))
    with pytest.raises(ConfigError, match="'SECRET' has rank"):
        level_lookup([*scales.values(), other])


@pytest.mark.parametrize(
    ("text", "rank"),
    [
        ("SECRET//NOFORN\nquarterly figures", 2),
        ("TOP SECRET", 3),
        ("TS//SCI budget", 3),
        ("S//NF notes", 2),
        ("CONFIDENTIAL", 1),
        ("C//REL TO USA", 1),
        ("UNCLASSIFIED", 0),
        ("report_SECRET_v2.doc", 2),
        ("TOP-SECRET plan.pdf", 3),
        ("绝密", 3),
        ("方案机密★10年.doc", 2),
        ("秘密 文件", 1),
        ("SECRETARY minutes", None),
        ("a classified restricted secret keyword list", None),
        ("BOTS//X", None),
        ("内部 通知", None),
        ("", None),
    ],
)
def test_marking_rank_python_and_sql_agree(store: Store, text: str, rank: int | None) -> None:
    assert marking_rank(text, LOOKUP) == rank
    sql = f"SELECT {marking_rank_sql('t', LOOKUP)} FROM (SELECT ?::VARCHAR AS t)"
    assert store.query(sql, [text])[0][0] == rank


def test_marking_rank_custom_scale_names_are_markings() -> None:
    custom = ClassificationScale("acme", (("PUBLIC", 0), ("CROWN JEWELS", 3)))
    lookup = level_lookup([*scales.values(), custom])
    assert marking_rank("CROWN JEWELS roadmap.ppt", lookup) == 3
