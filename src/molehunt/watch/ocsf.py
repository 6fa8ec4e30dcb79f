"""An alert as an OCSF 1.3.0 Detection Finding (class_uid 2004, category Findings).

Required attributes of the class in OCSF 1.3.0 (schema.ocsf.io/1.3.0/classes/detection_finding):
`activity_id`, `category_uid`, `class_uid`, `finding_info` (itself requiring `title` and
`uid`), `metadata` (requiring `product` and `version`), `severity_id`, `time` and `type_uid`
(= class_uid x 100 + activity_id). The rest below is recommended or optional context: the
person as `actor.user`, the rule as `finding_info.analytic`, the evidence line.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from molehunt import __version__
from molehunt.watch.alerts import WatchAlert

OCSF_VERSION = "1.3.0"
CLASS_UID = 2004
CATEGORY_UID = 2
ACTIVITY_CREATE = 1
# OCSF severity_id: 1 Informational, 2 Low, 3 Medium, 4 High, 5 Critical.
SEVERITY_IDS = {"low": 2, "medium": 3, "high": 4, "critical": 5}
REQUIRED = (
    "activity_id",
    "category_uid",
    "class_uid",
    "finding_info",
    "metadata",
    "severity_id",
    "time",
    "type_uid",
)
REQUIRED_FINDING_INFO = ("title", "uid")
REQUIRED_METADATA = ("product", "version")


def _epoch_ms(moment: datetime) -> int:
    aware = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return int(aware.timestamp() * 1000)


def to_detection_finding(alert: WatchAlert) -> dict[str, Any]:
    """Return the alert as an OCSF Detection Finding object.

    Args:
        alert: The alert.

    Returns:
        A JSON-ready mapping with every required attribute of OCSF 1.3.0 class 2004.
    """
    severity = alert.severity if alert.severity in SEVERITY_IDS else "critical"
    finding: dict[str, Any] = {
        "class_uid": CLASS_UID,
        "class_name": "Detection Finding",
        "category_uid": CATEGORY_UID,
        "category_name": "Findings",
        "activity_id": ACTIVITY_CREATE,
        "activity_name": "Create",
        "type_uid": CLASS_UID * 100 + ACTIVITY_CREATE,
        "type_name": "Detection Finding: Create",
        "time": _epoch_ms(alert.raised),
        "severity_id": SEVERITY_IDS[severity],
        "severity": severity.capitalize(),
        "status_id": 1,
        "status": "New",
        "is_alert": True,
        "message": f"{alert.user} on {alert.day.isoformat()}: {alert.title}",
        "metadata": {
            "version": OCSF_VERSION,
            "product": {"name": "molehunt", "vendor_name": "molehunt", "version": __version__},
            "uid": alert.alert_id,
        },
        "finding_info": {
            "uid": alert.alert_id,
            "title": alert.title,
            "desc": alert.description,
            "types": list(alert.tags),
            "analytic": {"uid": alert.rule_id, "name": alert.rule_id, "type_id": 1},
            "created_time": _epoch_ms(alert.raised),
        },
        "actor": {"user": {"name": alert.user, "uid": alert.user}},
        "risk_score": int(round(alert.weight)),
        "unmapped": {"day": alert.day.isoformat(), "stage": alert.stage},
    }
    if alert.last_event is not None:
        finding["end_time"] = _epoch_ms(alert.last_event)
        finding["finding_info"]["last_seen_time"] = _epoch_ms(alert.last_event)
    if alert.evidence:
        finding["evidences"] = [{"data": {"source": alert.evidence}}]
    return finding


def missing_required(finding: dict[str, Any]) -> list[str]:
    """Return the required OCSF 1.3.0 Detection Finding attributes `finding` lacks.

    Args:
        finding: A would-be Detection Finding.

    Returns:
        Dotted names of the missing or wrongly typed attributes ([] when the shape is valid).
    """
    problems = [name for name in REQUIRED if finding.get(name) in (None, "", {})]
    info = finding.get("finding_info") or {}
    problems += [f"finding_info.{n}" for n in REQUIRED_FINDING_INFO if not info.get(n)]
    metadata = finding.get("metadata") or {}
    problems += [f"metadata.{n}" for n in REQUIRED_METADATA if not metadata.get(n)]
    if finding.get("class_uid") != CLASS_UID:
        problems.append("class_uid (expected 2004)")
    if finding.get("type_uid") != CLASS_UID * 100 + int(finding.get("activity_id") or 0):
        problems.append("type_uid (expected class_uid x 100 + activity_id)")
    if not isinstance(finding.get("time"), int):
        problems.append("time (expected epoch milliseconds)")
    return problems
