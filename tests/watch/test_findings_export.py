"""`molehunt export findings`: the rule hits of alerting days as OCSF Detection Findings."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner

from molehunt.cli import main
from molehunt.errors import ConfigError
from molehunt.store import Store
from molehunt.watch import missing_required
from molehunt.watch.alerts import alert_id
from molehunt.watch.findings import export_findings, scored_findings

from .conftest import copy_workspace

NOW = datetime(2026, 12, 1, 23, 0, 0, tzinfo=UTC)


@pytest.fixture
def workspace(batch_workspace: Path, tmp_path: Path) -> Path:
    return copy_workspace(batch_workspace, tmp_path / "ws")


def _expected(store: Store, min_score: float) -> list[tuple[str, date, str, float]]:
    return [
        (str(u), d, str(r), float(s))
        for u, d, r, s in store.query(
            "SELECT h.user, h.day, h.rule_id, s.score FROM rule_hits h JOIN scores s "
            "USING (user, day) WHERE s.score >= ? ORDER BY h.day, h.user, h.rule_id",
            [min_score],
        )
    ]


def _lowest_alerting_score(store: Store) -> float:
    # The small institute may have few days at 50; take a threshold that yields findings.
    return float(
        store.query(
            "SELECT least(50, max(s.score)) FROM rule_hits h JOIN scores s USING (user, day)"
        )[0][0]
    )


def test_ocsf_findings_have_the_detection_finding_shape(workspace: Path, tmp_path: Path) -> None:
    out = tmp_path / "findings.jsonl"
    with Store.open(workspace) as store:
        threshold = _lowest_alerting_score(store)
        expected = _expected(store, threshold)
        written = export_findings(store, out, "ocsf", threshold, now=NOW)
        paths = {str(p) for (p,) in store.query("SELECT path FROM sources")}
    assert written == len(expected) > 0
    findings = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(findings) == written
    for finding, (user, day, rule, score) in zip(findings, expected, strict=True):
        assert missing_required(finding) == []
        assert (finding["class_uid"], finding["category_uid"], finding["type_uid"]) == (
            2004,
            2,
            200401,
        )
        assert finding["activity_id"] == 1 and finding["severity_id"] in (2, 3, 4, 5)
        assert finding["time"] == int(NOW.timestamp() * 1000)
        assert finding["metadata"]["version"].startswith("1.")
        assert finding["metadata"]["product"]["name"] == "molehunt"
        assert finding["finding_info"]["uid"] == alert_id(user, day, rule)
        assert finding["finding_info"]["analytic"]["uid"] == rule
        assert finding["finding_info"]["title"]
        assert finding["actor"]["user"]["name"] == user
        assert finding["unmapped"] == {
            "day": day.isoformat(),
            "stage": "detect",
            "score": round(score, 4),
        }
        # The evidence is the person's newest event of the day: a line of an ingested file.
        path, _, line = finding["evidences"][0]["data"]["source"].rpartition(":")
        assert path in paths and int(line) > 0
        assert finding["end_time"] <= int(
            datetime.combine(day, datetime.max.time(), UTC).timestamp() * 1000
        )


def test_the_alert_format_and_the_watch_alert_are_one_definition(workspace: Path) -> None:
    with Store.open(workspace) as store:
        threshold = _lowest_alerting_score(store)
        found = scored_findings(store, threshold, now=NOW)
    alert, score = found[0]
    assert alert.stage == "detect" and alert.raised == NOW and score >= threshold
    from molehunt.watch.findings import finding_record
    from molehunt.watch.ocsf import to_detection_finding

    ocsf = finding_record(alert, score, "ocsf")
    del ocsf["unmapped"]["score"]
    assert ocsf == to_detection_finding(alert), "the exported finding is the watch sinks' one"
    assert finding_record(alert, score, "alert") == {**alert.to_dict(), "score": round(score, 4)}


def test_min_score_and_days_choose_the_findings(workspace: Path, tmp_path: Path) -> None:
    with Store.open(workspace) as store:
        everything = _expected(store, 0.0)
        assert len(scored_findings(store, 0.0, now=NOW)) == len(everything)
        day = everything[len(everything) // 2][1]
        one_day = scored_findings(store, 0.0, since=day, until=day, now=NOW)
        assert {a.day for a, _ in one_day} == {day}
        assert len(one_day) == sum(1 for e in everything if e[1] == day)
        assert scored_findings(store, 101.0) == []


def test_cli_export_findings(workspace: Path, tmp_path: Path) -> None:
    runner = CliRunner()
    out = tmp_path / "f.jsonl"
    result = runner.invoke(
        main,
        ["--workspace", str(workspace), "export", "findings", str(out), "--min-score", "0"],
    )
    assert result.exit_code == 0, result.output
    count = len(out.read_text().splitlines())
    assert f"wrote {count:,} findings to {out}" in result.output
    alerts = runner.invoke(
        main,
        [
            "--workspace",
            str(workspace),
            "export",
            "findings",
            "-",
            "--format",
            "alert",
            "--min-score",
            "0",
        ],
    )
    assert alerts.exit_code == 0
    rows = [json.loads(line) for line in alerts.output.splitlines()]
    assert len(rows) == count and {"alert_id", "rule_id", "score", "stage"} <= set(rows[0])


def test_nothing_scored_is_one_clear_error(tmp_path: Path) -> None:
    with Store.open(tmp_path / "empty") as store, pytest.raises(ConfigError, match="detect"):
        export_findings(store, tmp_path / "f.jsonl")
    result = CliRunner().invoke(
        main, ["--workspace", str(tmp_path / "empty"), "export", "findings", "f.jsonl"]
    )
    assert result.exit_code == 1 and "nothing scored yet" in result.output
