"""The feature catalogue: daily feature definitions (`features.yaml`) and domain categories."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from molehunt.errors import ConfigError

WARM_UP_DAYS = 10
BASELINE_DAYS = 60
# A trend compares the sum of the last TREND_DAYS active days with the BASELINE_DAYS before them.
TREND_DAYS = 10
# A deviation's usual is shrunk toward the peer group as if the peers were this many days of the
# person's own history: a newcomer is judged mostly against peers, a veteran against self (a
# larger prior biases a heavy user's usual toward the peers' and makes every day look high).
PEER_PRIOR_DAYS = 3
# A deviation counts n / (n + CONFIDENCE_DAYS) of itself after n days of history.
CONFIDENCE_DAYS = 10

# Per user-day context columns (table `context_daily`, optional): name -> SQL type.
CONTEXT_COLUMNS: dict[str, str] = {
    "classified_read": "DOUBLE",
    "classified_removable": "DOUBLE",
    "classified_emailed": "DOUBLE",
    "classified_uploaded": "DOUBLE",
    "max_level_rank": "DOUBLE",
    "above_clearance": "DOUBLE",
    "need_to_know_violations": "DOUBLE",
    "departing": "BOOLEAN",
    "notice_today": "BOOLEAN",
    "lookback_classified_90d": "DOUBLE",
    "stressors": "DOUBLE",
    "priority_user": "BOOLEAN",
    "after_departure": "DOUBLE",
    "undeclared_travel": "BOOLEAN",
    "classified_printed": "DOUBLE",
    "classified_printed_after_hours": "DOUBLE",
    "printed_outside_need_to_know": "DOUBLE",
    "compartments_first_printed": "DOUBLE",
}


@dataclass(frozen=True)
class FeatureDefinition:
    """One daily feature, aggregated from enriched events.

    Args:
        name: Column name in `features`.
        where: SQL predicate over enriched event columns; also selects evidence events.
        measure: `count`, `sum:<column>` or `distinct:<column>`.
        doc: One-line meaning.
        baseline: Whether own and peer baselines are computed.
        first: Whether a first-time flag `first_<name>` is computed.
        trend: Whether a sustained-rise deviation `z_trend_<name>` is computed (the last
            `TREND_DAYS` active days against the `BASELINE_DAYS` before them).
        evidence: Whether matching events are shown as evidence.
        deviation: Whether a continuous deviation `dev_<name>` is computed: how far the day's
            count lies above the person's usual (shrunk toward the peer group while the
            history is short), in standard units of a variance-stabilised count (needs
            `baseline`).
        model: Whether the unsupervised model's vector includes this feature's columns
            (`detect/model_run.py`); off for channels many sources lack (print), so a new
            feature does not change the model's scores on data without it.
    """

    name: str
    where: str
    measure: str = "count"
    doc: str = ""
    baseline: bool = False
    first: bool = False
    trend: bool = False
    evidence: bool = True
    deviation: bool = False
    model: bool = True

    def aggregate_sql(self) -> str:
        """Return the SQL aggregate that computes this feature over enriched events."""
        kind, _, column = self.measure.partition(":")
        if kind == "sum":
            body = f"sum({column}) FILTER (WHERE {self.where})"
        elif kind == "distinct":
            # Not count(DISTINCT ...): DuckDB then materialises the aggregate's whole input
            # for the distinct aggregates (a quarter of the features query's CPU in a full
            # r4.2-scale detect, 75 -> 56 CPU-s). A list of the filtered values keeps one
            # pass; its distinct values are counted, NULLs dropped as count(DISTINCT) does.
            body = f"array_length(list_distinct(list({column}) FILTER (WHERE {self.where})))"
        else:
            # count_if, not count(*) FILTER: a filtered aggregate costs DuckDB a selection of
            # its own (15-20% less CPU for the features query). It is NULL when every
            # condition is NULL, hence the coalesce as for the others.
            body = f"count_if({self.where})"
        return f"coalesce({body}, 0)::DOUBLE AS {self.name}"


def _load_yaml(text: str, origin: str) -> Any:
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise ConfigError(f"{origin}: invalid YAML: {error}") from error


@cache
def load_features() -> tuple[FeatureDefinition, ...]:
    """Return the shipped daily feature definitions, in order.

    Returns:
        The definitions from `molehunt/features/features.yaml`.
    """
    text = (resources.files("molehunt.features") / "features.yaml").read_text(encoding="utf-8")
    features = tuple(FeatureDefinition(**entry) for entry in _load_yaml(text, "features.yaml"))
    for feature in features:
        if feature.deviation and not feature.baseline:
            raise ConfigError(f"features.yaml: {feature.name}: deviation needs baseline: true")
    return features


def load_domains(path: Path | None = None) -> dict[str, str]:
    """Return domain -> category from the shipped list, or from `path` when given.

    A domain listed under several categories keeps its first one, except that
    `personal_email` (recipient domains) is kept apart by `personal_email_domains`.

    Args:
        path: An edited copy of `domains.yaml`.

    Returns:
        Lower-case domain (without `www.`) -> category.

    Raises:
        ConfigError: The file is not a mapping of category -> list of domains.
    """
    if path is None:
        data, origin = _shipped_domains(), "domains.yaml"
    else:
        origin = str(path)
        data = _load_yaml(path.read_text(encoding="utf-8"), origin)
    if not isinstance(data, dict):
        raise ConfigError(f"{origin}: expected a mapping of category -> list of domains")
    mapping: dict[str, str] = {}
    for category, domains in data.items():
        if category == "personal_email":
            continue
        if not isinstance(domains, list):
            raise ConfigError(f"{origin}: category {category!r} must list domains")
        for domain in domains:
            mapping.setdefault(str(domain).lower().removeprefix("www."), str(category))
    return mapping


def personal_email_domains(path: Path | None = None) -> tuple[str, ...]:
    """Return the personal e-mail (webmail / ISP) domains of the domain list.

    Args:
        path: An edited copy of `domains.yaml`.

    Returns:
        Lower-case domains.
    """
    if path is None:
        data = _shipped_domains() or {}
    else:
        data = _load_yaml(path.read_text(encoding="utf-8"), str(path)) or {}
    return tuple(str(d).lower() for d in data.get("personal_email", []))


@cache
def _shipped_domains() -> Any:
    """The shipped `domains.yaml`, parsed once per process (read only by the two functions
    above): every day close and every intra-day rule run of `watch` reads it twice, 3 ms a
    time."""
    text = (resources.files("molehunt.features") / "domains.yaml").read_text(encoding="utf-8")
    return _load_yaml(text, "domains.yaml")


def feature_names() -> list[str]:
    """Return every column a rule may name: raw, context, baseline, first-time and meta columns.

    Returns:
        Column names of the `features` table usable in rules and models.
    """
    names = ["prior_days", "peer_count"]
    for feature in load_features():
        names.append(feature.name)
        if feature.baseline:
            names += [f"own_mean_{feature.name}", f"z_own_{feature.name}"]
            names += [f"peer_mean_{feature.name}", f"z_peer_{feature.name}"]
        if feature.first:
            names.append(f"first_{feature.name}")
        if feature.deviation:
            names.append(f"dev_{feature.name}")
        if feature.trend:
            names += [f"recent_{feature.name}", f"trend_mean_{feature.name}"]
            names.append(f"z_trend_{feature.name}")
    names += list(CONTEXT_COLUMNS)
    return names


def base_feature(name: str) -> FeatureDefinition | None:
    """Return the raw feature a derived column (`z_own_x`, `first_x`, ...) is computed from.

    Args:
        name: A column of `features`.

    Returns:
        The definition, or None for context and meta columns.
    """
    by_name = {feature.name: feature for feature in load_features()}
    prefixes = ("own_mean_", "z_own_", "peer_mean_", "z_peer_", "first_", "dev_")
    for prefix in (*prefixes, "recent_", "trend_mean_", "z_trend_", ""):
        if name.startswith(prefix) and name[len(prefix) :] in by_name:
            return by_name[name[len(prefix) :]]
    return None
