"""Classification scales: ordered levels of each scheme, mapped onto one canonical scale.

Every level of every scheme maps onto a canonical rank, 0 UNCLASSIFIED, 1 CONFIDENTIAL,
2 SECRET, 3 TOP SECRET, so a document marked 机密 and a clearance of SECRET compare directly.
Built-in schemes are `us` and `cn`; custom ones come from a `scales.yaml` (or `.json`) file:

    acme:
      levels: {PUBLIC: 0, INTERNAL: 0, RESTRICTED: CONFIDENTIAL, CROWN JEWELS: 3}
      aliases: {CJ: CROWN JEWELS}
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from molehunt.errors import ConfigError

CANONICAL_LEVELS: tuple[str, ...] = ("UNCLASSIFIED", "CONFIDENTIAL", "SECRET", "TOP SECRET")
SCALE_FILES = ("scales.yaml", "scales.yml", "scales.json")

# What follows a level in a marking is not part of the level: `SECRET//NOFORN`, `机密★10年`.
_CONTROL_SUFFIX = re.compile(r"(//|★).*$", re.DOTALL)
_SEPARATORS = re.compile(r"[\s_-]+")

# The same normalisation in DuckDB SQL (tests check both agree); `{}` is the column.
NORMALIZE_SQL = (
    r"upper(trim(regexp_replace(regexp_replace({}, '(//|★).*$', ''), '[\s_-]+', ' ', 'g')))"
)


def normalize_level(text: str) -> str:
    """Reduce a level as written to its lookup key.

    Args:
        text: A level or marking as written (`top_secret//sci`, ` 机密★10年`).

    Returns:
        Upper case, control suffix (`//...`, `★...`) removed, separators collapsed to one space.

    Examples:
        >>> normalize_level("top_secret//SCI")
        'TOP SECRET'
    """
    without = _CONTROL_SUFFIX.sub("", text)
    return _SEPARATORS.sub(" ", without).strip().upper()


@dataclass(frozen=True)
class ClassificationScale:
    """One classification scheme: its levels, lowest first, each on a canonical rank.

    Args:
        name: Registry key (`us`, `cn`, or a custom name).
        levels: (level name, canonical rank 0..3), lowest first.
        aliases: (alias, level name) pairs: abbreviations and other spellings.
    """

    name: str
    levels: tuple[tuple[str, int], ...]
    aliases: tuple[tuple[str, str], ...] = field(default=())

    def lookup(self) -> dict[str, int]:
        """Return normalised level names and aliases -> canonical rank.

        Raises:
            ConfigError: An alias names a level the scale does not have, or a rank is not 0..3.
        """
        table: dict[str, int] = {}
        for level, rank in self.levels:
            if not 0 <= rank < len(CANONICAL_LEVELS):
                raise ConfigError(
                    f"scale {self.name}: level {level!r} has rank {rank}; expected 0..3"
                )
            table[normalize_level(level)] = rank
        for alias, level in self.aliases:
            key = normalize_level(level)
            if key not in table:
                raise ConfigError(
                    f"scale {self.name}: alias {alias!r} names unknown level {level!r}"
                )
            table[normalize_level(alias)] = table[key]
        return table

    def rank(self, text: str) -> int | None:
        """Return the canonical rank of a level as written, or None when the scale lacks it.

        Examples:
            >>> scales["cn"].rank("机密★10年")
            2
        """
        return self.lookup().get(normalize_level(text))

    def level_name(self, rank: int) -> str | None:
        """Return this scale's highest level name on canonical `rank`, or None."""
        names = [name for name, level_rank in self.levels if level_rank == rank]
        return names[-1] if names else None

    @classmethod
    def from_dict(cls, name: str, data: Mapping[str, Any]) -> ClassificationScale:
        """Build a scale from its `scales.yaml` entry.

        Args:
            name: The scale's key.
            data: `{"levels": {NAME: rank or canonical name}, "aliases": {ALIAS: NAME}}`.

        Returns:
            The scale.

        Raises:
            ConfigError: The entry is not of that shape.
        """
        levels = data.get("levels") if isinstance(data, Mapping) else None
        aliases = data.get("aliases", {}) if isinstance(data, Mapping) else None
        if not isinstance(levels, Mapping) or not levels or not isinstance(aliases, Mapping):
            raise ConfigError(
                f"scale {name}: expected 'levels: {{NAME: 0..3 or UNCLASSIFIED..TOP SECRET}}' "
                "and optional 'aliases: {ALIAS: NAME}'"
            )
        pairs = tuple(
            (str(level), _canonical_rank(name, level, rank)) for level, rank in levels.items()
        )
        scale = cls(name, pairs, tuple((str(a), str(b)) for a, b in aliases.items()))
        scale.lookup()
        return scale

    def to_dict(self) -> dict[str, Any]:
        """Return the `scales.yaml` entry of this scale (the inverse of `from_dict`)."""
        return {"levels": dict(self.levels), "aliases": dict(self.aliases)}


def _canonical_rank(scale: str, level: object, value: object) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and normalize_level(value) in CANONICAL_LEVELS:
        return CANONICAL_LEVELS.index(normalize_level(value))
    raise ConfigError(
        f"scale {scale}: level {level!r} maps to {value!r}; expected 0..3 or one of "
        + ", ".join(CANONICAL_LEVELS)
    )


US = ClassificationScale(
    "us",
    (("UNCLASSIFIED", 0), ("CONFIDENTIAL", 1), ("SECRET", 2), ("TOP SECRET", 3)),
    (
        ("U", "UNCLASSIFIED"),
        ("UNCLAS", "UNCLASSIFIED"),
        ("C", "CONFIDENTIAL"),
        ("S", "SECRET"),
        ("TS", "TOP SECRET"),
        ("TOPSECRET", "TOP SECRET"),
        ("TS/SCI", "TOP SECRET"),
        ("TOP SECRET/SCI", "TOP SECRET"),
    ),
)
CN = ClassificationScale(
    "cn",
    (("公开", 0), ("内部", 0), ("秘密", 1), ("机密", 2), ("绝密", 3)),
    (("非密", "公开"),),
)

scales: dict[str, ClassificationScale] = {"us": US, "cn": CN}
"""Built-in scales by key; custom scales are added per ingest from `scales.yaml`."""


def load_scales(path: Path) -> dict[str, ClassificationScale]:
    """Read custom scales from a YAML or JSON file.

    Args:
        path: `scales.yaml` / `scales.json`.

    Returns:
        The custom scales by name.

    Raises:
        ConfigError: The file cannot be read or parsed, or an entry is malformed.
    """
    try:
        text = path.read_text(encoding="utf-8")
        data = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
    except (OSError, ValueError, yaml.YAMLError) as error:
        raise ConfigError(f"{path}: cannot read classification scales ({error})") from error
    if not isinstance(data, Mapping):
        raise ConfigError(f"{path}: expected a mapping of scale name -> {{levels: ...}}")
    return {
        str(name): ClassificationScale.from_dict(str(name), entry) for name, entry in data.items()
    }


def find_scale_file(folder: Path) -> Path | None:
    """Return the custom scales file in a context folder, if there is one."""
    for name in SCALE_FILES:
        if (folder / name).is_file():
            return folder / name
    return None


def level_lookup(chosen: Iterable[ClassificationScale]) -> dict[str, int]:
    """Merge scales into one normalised name -> canonical rank table.

    Args:
        chosen: The scales in force (built-in plus custom).

    Returns:
        The merged table.

    Raises:
        ConfigError: Two scales give the same name different ranks.
    """
    merged: dict[str, int] = {}
    owner: dict[str, str] = {}
    for scale in chosen:
        for key, rank in scale.lookup().items():
            if key in merged and merged[key] != rank:
                raise ConfigError(
                    f"scale {scale.name}: {key!r} has rank {rank}, but scale {owner[key]} "
                    f"gives it rank {merged[key]}; rename one of them"
                )
            merged[key] = rank
            owner[key] = scale.name
    return merged
