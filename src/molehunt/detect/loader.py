"""Load rule files (built-in pack, workspace `rules/*.yaml`, `--rules PATH`) with line numbers."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from molehunt.detect.errors import RuleError
from molehunt.detect.rule import Rule
from molehunt.errors import SourceLocation


@dataclass(frozen=True)
class RawRule:
    """One rule mapping as written, with where it was written.

    Args:
        data: The YAML mapping.
        source: File and line of the rule.
        key_lines: Line of each key of the mapping.
    """

    data: dict[str, Any]
    source: SourceLocation
    key_lines: dict[str, int]


def builtin_rule_files() -> list[Path]:
    """Return the files of the built-in rule pack, sorted.

    Returns:
        Paths of `molehunt/detect/rules/*.yaml`.
    """
    folder = resources.files("molehunt.detect") / "rules"
    return sorted(Path(str(entry)) for entry in folder.iterdir() if entry.name.endswith(".yaml"))


def expand_rule_paths(paths: Iterable[Path]) -> list[Path]:
    """Expand folders into their `*.yaml` / `*.yml` files, keeping order.

    Args:
        paths: Files or folders.

    Returns:
        Files.
    """
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            files += sorted(p for p in path.iterdir() if p.suffix in (".yaml", ".yml"))
        else:
            files.append(path)
    return files


def read_raw_rules(path: Path) -> Iterator[RawRule]:
    """Yield every rule mapping of one file with its line numbers.

    Args:
        path: A YAML file holding a list of rules (or a mapping with key `rules`).

    Yields:
        The raw rules.

    Raises:
        RuleError: The file is missing, not YAML, or not a list of mappings.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise RuleError(
            f"cannot read rule file: {error.strerror}", source=SourceLocation(path)
        ) from error
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        data = loader.construct_document(node) if node is not None else []
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark
        line = mark.line + 1 if mark is not None else None
        raise RuleError(
            f"invalid YAML: {error.problem}", source=SourceLocation(path, line)
        ) from error
    finally:
        loader.dispose()
    if isinstance(data, dict) and isinstance(node, yaml.MappingNode) and "rules" in data:
        node = next(v for k, v in node.value if k.value == "rules")
        data = data["rules"]
    if data is None:
        return
    if not isinstance(data, list) or not isinstance(node, yaml.SequenceNode):
        raise RuleError("expected a list of rules", source=SourceLocation(path, 1))
    for item, item_node in zip(data, node.value, strict=True):
        line = item_node.start_mark.line + 1
        if not isinstance(item, dict) or not isinstance(item_node, yaml.MappingNode):
            raise RuleError("each rule must be a mapping", source=SourceLocation(path, line))
        key_lines = {str(k.value): k.start_mark.line + 1 for k, _ in item_node.value}
        yield RawRule(item, SourceLocation(path, line), key_lines)


def load_rule_file(path: Path) -> list[Rule]:
    """Read every rule of one file (parsed once per file version: rules are frozen).

    Args:
        path: A rule file.

    Returns:
        The rules, in file order.

    Raises:
        RuleError: The file or one of its rules is invalid (with file:line).
    """
    try:
        stat = Path(path).stat()
    except OSError:  # read_raw_rules names the missing file
        return [Rule.from_dict(raw.data, raw.source) for raw in read_raw_rules(path)]
    return list(_parsed_rule_file(str(path), stat.st_mtime_ns, stat.st_size))


@lru_cache(maxsize=256)
def _parsed_rule_file(path: str, mtime_ns: int, size: int) -> tuple[Rule, ...]:
    """Parse a rule file; cached by path and version (the web workbench lists rules per request)."""
    return tuple(Rule.from_dict(raw.data, raw.source) for raw in read_raw_rules(Path(path)))


def list_rules(extra_paths: Iterable[Path] = ()) -> list[Rule]:
    """Return the effective rule list: built-ins overridden by user files, in load order.

    A user rule with a built-in's id replaces it; `enabled: false` keeps it listed but off.

    Args:
        extra_paths: User rule files or folders (e.g. `<workspace>/rules`, `--rules PATH`).

    Returns:
        Every rule, enabled or not.

    Raises:
        RuleError: A file or rule is invalid.
    """
    rules: dict[str, Rule] = {}
    for path in builtin_rule_files() + expand_rule_paths(extra_paths):
        for rule in load_rule_file(path):
            rules[rule.id] = rule
    return list(rules.values())


def active_rules(extra_paths: Iterable[Path] = ()) -> list[Rule]:
    """Return the enabled rules of `list_rules`.

    Args:
        extra_paths: User rule files or folders.

    Returns:
        The enabled rules.
    """
    return [rule for rule in list_rules(extra_paths) if rule.enabled]


def workspace_rule_paths(root: Path) -> list[Path]:
    """Return the user rule folder of a workspace when it exists.

    Args:
        root: The workspace folder.

    Returns:
        `[root / "rules"]` or an empty list.
    """
    folder = root / "rules"
    return [folder] if folder.is_dir() else []
