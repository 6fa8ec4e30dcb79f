"""Rules as data: a `Rule` is a weighted conjunction (or disjunction) of feature conditions.

A condition is written `feature OP number` or `AGG(feature, Nd) OP number`, where AGG is
`sum`, `max` or `days` (days with the feature > 0) over the last N days, today included::

    - id: removable-copy-surge
      title: Copied far more files to removable media than usual
      weight: 35
      all:
        - files_to_removable >= 10
        - z_own_files_to_removable > 4
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from molehunt.detect.errors import RuleError
from molehunt.errors import SourceLocation

OPERATORS = (">=", "<=", "==", "!=", ">", "<")
AGGREGATES = ("sum", "max", "days")
SEVERITIES = ("low", "medium", "high", "critical")
RULE_KEYS = frozenset(
    {"id", "title", "description", "severity", "weight", "tags", "enabled", "all", "any"}
)
_CONDITION = re.compile(
    r"^\s*(?:(?P<agg>[a-z]+)\(\s*(?P<wfeature>\w+)\s*,\s*(?P<days>\d+)d\s*\)|(?P<feature>\w+))"
    r"\s*(?P<op>>=|<=|==|!=|>|<)\s*(?P<value>-?\d+(?:\.\d+)?)\s*$"
)


@dataclass(frozen=True)
class Condition:
    """One comparison of a feature (optionally aggregated over recent days) with a number.

    Args:
        feature: A column of the `features` table.
        op: One of `OPERATORS`.
        value: The number compared with.
        window_days: Days aggregated, today included (1 = today only).
        aggregate: `sum`, `max` or `days`; used when `window_days` > 1.
    """

    feature: str
    op: str
    value: float
    window_days: int = 1
    aggregate: str = "sum"

    @classmethod
    def parse(cls, text: str) -> Condition:
        """Parse `feature OP number` or `AGG(feature, Nd) OP number`.

        Args:
            text: The condition as written in YAML.

        Returns:
            The condition.

        Raises:
            RuleError: The text does not follow that grammar.
        """
        match = _CONDITION.match(text)
        if match is None:
            raise RuleError(
                f"cannot read condition {text!r}; expected 'feature > 3' or 'sum(feature, 30d) > 3'"
            )
        if match["agg"] is not None:
            if match["agg"] not in AGGREGATES:
                raise RuleError(f"unknown aggregate {match['agg']!r}; expected one of {AGGREGATES}")
            return cls(
                match["wfeature"],
                match["op"],
                float(match["value"]),
                int(match["days"]),
                match["agg"],
            )
        return cls(match["feature"], match["op"], float(match["value"]))

    def __str__(self) -> str:
        value = f"{self.value:g}"
        if self.window_days > 1:
            return f"{self.aggregate}({self.feature}, {self.window_days}d) {self.op} {value}"
        return f"{self.feature} {self.op} {value}"


@dataclass(frozen=True)
class Rule:
    """A named, weighted detection rule over the per user-day feature table.

    Args:
        id: Stable identifier; a user rule with the same id overrides a built-in one.
        title: One line shown in the queue and in explanations.
        weight: Risk points (0-100) a hit adds to the day's evidence.
        conditions: The comparisons.
        match: `all` (every condition holds) or `any` (at least one).
        severity: One of `SEVERITIES`.
        description: Longer text.
        tags: Free labels (scenario, channel, MITRE-style technique).
        enabled: False disables the rule (used to switch off a built-in one).
        source: Where the rule was defined.
    """

    id: str
    title: str
    weight: float
    conditions: tuple[Condition, ...]
    match: str = "all"
    severity: str = "medium"
    description: str = ""
    tags: tuple[str, ...] = ()
    enabled: bool = True
    source: SourceLocation | None = field(default=None, compare=False)

    @classmethod
    def from_dict(cls, data: dict[str, Any], source: SourceLocation | None = None) -> Rule:
        """Build a rule from its YAML mapping.

        Args:
            data: The mapping.
            source: Where it was read.

        Returns:
            The rule.

        Raises:
            RuleError: A key is missing, unknown or of the wrong type.
        """
        unknown = sorted(set(data) - RULE_KEYS)
        if unknown:
            raise RuleError(f"unknown rule key(s) {unknown}", source=source)
        for key in ("id", "title", "weight"):
            if key not in data:
                raise RuleError(f"rule lacks required key {key!r}", source=source)
        if ("all" in data) == ("any" in data):
            raise RuleError("a rule needs exactly one of 'all' or 'any'", source=source)
        match = "all" if "all" in data else "any"
        written = data[match]
        if not isinstance(written, list) or not written:
            raise RuleError(f"'{match}' must be a non-empty list of conditions", source=source)
        try:
            conditions = tuple(Condition.parse(str(text)) for text in written)
            weight = float(data["weight"])
        except (RuleError, ValueError, TypeError) as error:
            raise RuleError(str(error), source=source) from error
        return cls(
            id=str(data["id"]),
            title=str(data["title"]),
            weight=weight,
            conditions=conditions,
            match=match,
            severity=str(data.get("severity", "medium")),
            description=str(data.get("description", "")),
            tags=tuple(str(tag) for tag in data.get("tags", ())),
            enabled=bool(data.get("enabled", True)),
            source=source,
        )

    @property
    def habituates(self) -> bool:
        """Whether repeats weaken the rule in full (not for `policy` or `sequence` rules).

        A policy violation (need-to-know) or a step of a sequence already under way (job search
        after it started) keeps counting; the score stage weakens their repeats less.

        Returns:
            True unless the rule is tagged `policy` or `sequence`.
        """
        return not {"policy", "sequence"} & set(self.tags)

    @property
    def is_act(self) -> bool:
        """Whether the rule describes an act (tag `act`) that counts in full every time.

        An act (a leak-site visit during an after-hours session with removable media in, a
        hacking tool carried on a thumb drive, copying after a job search) is evidence on
        every occurrence: repeats do not weaken it and its rarity in the population does not
        discount it.

        Returns:
            True when the rule is tagged `act`.
        """
        return "act" in self.tags

    def to_dict(self) -> dict[str, Any]:
        """Return the YAML mapping of this rule (round-trips through `from_dict`).

        Returns:
            The mapping.
        """
        return {
            "id": self.id,
            "title": self.title,
            "description": self.description,
            "severity": self.severity,
            "weight": self.weight,
            "tags": list(self.tags),
            "enabled": self.enabled,
            self.match: [str(condition) for condition in self.conditions],
        }

    @property
    def max_window_days(self) -> int:
        """The longest window any condition aggregates over."""
        return max(condition.window_days for condition in self.conditions)
