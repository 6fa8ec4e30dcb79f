"""What an explanation holds: findings (rule hits with evidence) and feature contributions."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import date, datetime
from typing import Any

from molehunt.explain.classified import ClassifiedMovement


@dataclass(frozen=True)
class EvidenceEvent:
    """One event behind a finding, traceable to its source file and line.

    Args:
        event_id: The source id of the event.
        source_id: The `sources` row.
        source_line: 1-based line in that file.
        time: When.
        channel: logon, device, file, email, http.
        action: The normalised verb.
        host: The machine.
        object: File, URL or recipients.
    """

    event_id: str
    source_id: int
    source_line: int
    time: datetime
    channel: str
    action: str
    host: str | None
    object: str | None

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready mapping.

        Returns:
            The fields, time as ISO text.
        """
        data = asdict(self)
        data["time"] = self.time.isoformat()
        return data


@dataclass(frozen=True)
class Contribution:
    """One feature of the day compared with the person's own past and their peers.

    Args:
        feature: Column of `features`.
        value: The day's value.
        own_mean: Mean over the previous 60 active days (None during warm-up).
        peer_mean: Mean of the person's active peers that day (the person left out).
        z_own: Deviation from own past (None during warm-up).
        z_peer: Deviation from peers.
        text: The comparison in plain words.
    """

    feature: str
    value: float
    own_mean: float | None
    peer_mean: float | None
    z_own: float | None
    z_peer: float | None
    text: str

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready mapping.

        Returns:
            The fields.
        """
        return asdict(self)


@dataclass(frozen=True)
class Finding:
    """A rule hit of the day with the events that made it true.

    Args:
        rule_id: The rule.
        title: Its title.
        severity: low, medium, high, critical.
        weight: Points the rule carries.
        conditions: The rule's conditions as written.
        evidence: The events (at most 50).
    """

    rule_id: str
    title: str
    severity: str
    weight: float
    conditions: list[str]
    evidence: list[EvidenceEvent] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready mapping.

        Returns:
            The fields, evidence as mappings.
        """
        data = asdict(self)
        data["evidence"] = [event.to_dict() for event in self.evidence]
        return data


@dataclass(frozen=True)
class Deviation:
    """A channel above the person's own usual: the continuous evidence of the score.

    Args:
        feature: The feature (`features.yaml`).
        value: Its value that day.
        usual: The person's usual (own mean, shrunk toward peers while history is short).
        deviation: Standard units above the usual (`dev_<feature>`).
        days_above: Of the last `days` active days, those above the usual.
        days: The sustained-deviation window, in active days.
        points: Evidence points the day's deviation added.
        sustained_points: Points the sustained deviation (the window) added.
        text: One line in plain words.
        exposure_points: Points the day's volume added as exposure in a departure window
            (`ScoringConfig.exposure_weight`).
    """

    feature: str
    value: float
    usual: float | None
    deviation: float
    days_above: int
    days: int
    points: float
    sustained_points: float
    text: str
    exposure_points: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready mapping."""
        return asdict(self)


@dataclass(frozen=True)
class Explanation:
    """Why a person scores what they score on a day.

    Args:
        user: The person.
        day: The day.
        score: Risk 0-100.
        rank: Rank that day (1 = riskiest).
        rule_score: Rule points of the day.
        model_score: Model percentile (0-1).
        booster: Context multiplier applied.
        peer_group: LDAP functional unit / department used as peers.
        findings: Rule hits with evidence.
        contributions: Feature comparisons (values far from own past or peers).
        without_booster: Booster name -> the score had that booster been absent.
        classified: Classified documents moved out (the day, or the 90-day lookback on a
            notice day or while departing), by channel, level and compartment.
        classified_text: The same in words.
        leaver: The sealed leaver record (`molehunt.context.leaver_record`) when its last
            working day is on or before the day.
        alerted_on: The latest earlier alert day when the person is an open case that day
            (their carried evidence counts only in part), else None.
        evidence_score: The score of the whole evidence total (what the score would be were
            the case not open).
        deviations: Channels above the person's usual that day or for several recent days,
            with the points they added, in words (`molehunt.explain.deviation`).
    """

    user: str
    day: date
    score: float
    rank: int
    rule_score: float
    model_score: float
    booster: float
    peer_group: str
    findings: list[Finding]
    contributions: list[Contribution]
    without_booster: dict[str, float]
    classified: list[ClassifiedMovement] = field(default_factory=list)
    classified_text: list[str] = field(default_factory=list)
    leaver: dict[str, Any] | None = None
    alerted_on: date | None = None
    evidence_score: float | None = None
    deviations: list[Deviation] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready mapping.

        Returns:
            The fields, nested objects as mappings.
        """
        return {
            "user": self.user,
            "day": self.day.isoformat(),
            "score": self.score,
            "rank": self.rank,
            "rule_score": self.rule_score,
            "model_score": self.model_score,
            "booster": self.booster,
            "peer_group": self.peer_group,
            "findings": [finding.to_dict() for finding in self.findings],
            "contributions": [c.to_dict() for c in self.contributions],
            "without_booster": dict(self.without_booster),
            "classified": [m.to_dict() for m in self.classified],
            "classified_text": list(self.classified_text),
            "leaver": _leaver_json(self.leaver),
            "alerted_on": self.alerted_on.isoformat() if self.alerted_on else None,
            "evidence_score": self.evidence_score,
            "deviations": [d.to_dict() for d in self.deviations],
        }


def _leaver_json(record: dict[str, Any] | None) -> dict[str, Any] | None:
    """Return a leaver record with its dates as ISO text."""
    if record is None:
        return None
    return {k: v.isoformat() if isinstance(v, date) else v for k, v in record.items()}
