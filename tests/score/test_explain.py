"""Explanations of a planted insider name the rules, the evidence events and the baselines."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from molehunt.errors import ConfigError
from molehunt.explain import explain_user, render_explanation
from molehunt.score import daily_queue, export_scores, render_queue
from molehunt.store import Store
from tests.score.conftest import Simulated


def test_cert3_insider_explained_with_evidence(simulated: Simulated) -> None:
    incident = next(i for i in simulated.incidents if i.scenario == "cert-3")
    with Store.open(simulated.workspace, read_only=True) as store:
        explanation = explain_user(store, incident.user, incident.start)
        text = render_explanation(explanation)
    rules = {finding.rule_id: finding for finding in explanation.findings}
    assert {"keylogger-download", "supervisor-pc-logon"} <= set(rules)
    download = rules["keylogger-download"].evidence
    assert any(
        "keylogger" in (event.object or "") and event.action == "download" for event in download
    )
    assert all(event.source_line > 1 and event.event_id for event in download)
    assert "Logon to the supervisor's PC" in text
    assert explanation.score >= 50
    json.dumps(explanation.to_dict())


def test_contribution_text_compares_with_own_past_and_peers(simulated: Simulated) -> None:
    incident = next(i for i in simulated.incidents if i.scenario == "cert-1")
    with Store.open(simulated.workspace, read_only=True) as store:
        explanation = explain_user(store, incident.user, incident.start)
    # the labelled evening: a drive, files copied to it and a leak site, after hours (the
    # simulated run-up before it already made the drive itself less new)
    channels = {"files_to_removable", "usb_connects", "after_hours_logons", "leak_visits"}
    compared = [c for c in explanation.contributions if c.feature in channels]
    assert compared
    assert all("own usual" in c.text and "peers" in c.text for c in compared)


def test_peer_figure_leaves_the_person_out(simulated: Simulated) -> None:
    incident = next(i for i in simulated.incidents if i.scenario == "cert-1")
    with Store.open(simulated.workspace, read_only=True) as store:
        explanation = explain_user(store, incident.user, incident.start)
        contribution = next(c for c in explanation.contributions if c.peer_mean is not None)
        name = contribution.feature
        group, count = store.query(
            "SELECT peer_group, peer_count FROM features WHERE user = ? AND day = ?",
            [incident.user, incident.start],
        )[0]
        others = store.query(
            f"SELECT avg({name}), count(*) FROM features WHERE peer_group = ? AND day = ? "
            "AND user <> ?",
            [group, incident.start, incident.user],
        )[0]
    assert others[1] == count - 1 > 0
    assert contribution.peer_mean == pytest.approx(others[0])
    assert f"peers {others[0]:.1f}" in contribution.text


def test_queue_and_export(simulated: Simulated, tmp_path: Path) -> None:
    incident = next(i for i in simulated.incidents if i.scenario == "cert-3")
    with Store.open(simulated.workspace, read_only=True) as store:
        queue = daily_queue(store, incident.start, top=3)
        assert [entry.rank for entry in queue] == [1, 2, 3]
        assert incident.user in render_queue(queue)
        rows = export_scores(store, tmp_path / "scores.csv")
        count = store.query("SELECT count(*) FROM scores")[0][0]
    assert rows == count
    assert (tmp_path / "scores.csv").read_text(encoding="utf-8").startswith("user,day,score\n")


def test_unknown_user_is_a_clear_error(simulated: Simulated) -> None:
    with (
        Store.open(simulated.workspace, read_only=True) as store,
        pytest.raises(ConfigError, match="no score for user 'NOBODY'"),
    ):
        explain_user(store, "NOBODY")


def test_open_case_counts_carried_evidence_in_part(simulated: Simulated) -> None:
    """After an alert, a person with no new evidence keeps a quarter of the carried total."""
    with Store.open(simulated.workspace, read_only=True) as store:
        rows = store.query(
            """SELECT s.user, s.day, s.total, s.evidence_total, e.evidence
            FROM scores s JOIN daily_evidence e USING (user, day)
            WHERE s.open_case AND e.evidence = 0 ORDER BY s.day, s.user LIMIT 1"""
        )
        assert rows, "no open case without new evidence in the simulated institute"
        user, day, total, evidence_total, _ = rows[0]
        explanation = explain_user(store, user, day)
        queued = {entry.user: entry for entry in daily_queue(store, day, top=100_000)}
        alerts = store.query(
            """SELECT max(s.day) FROM scores s JOIN score_reference r USING (day)
            WHERE s.user = ? AND s.day < ? AND s.evidence_total >= r.reference""",
            [user, day],
        )[0][0]
    assert total == pytest.approx(0.25 * evidence_total)
    assert queued[user].open_case and "(open case)" in render_queue([queued[user]])
    assert explanation.alerted_on == alerts and (day - alerts).days <= 3
    assert explanation.evidence_score is not None and explanation.evidence_score > explanation.score
    assert f"open case: alerted on {alerts.isoformat()}" in render_explanation(explanation)


def test_scores_of_an_older_molehunt_ask_for_detect(store: Store) -> None:
    with store.transaction() as connection:
        connection.execute(
            "CREATE TABLE scores (user VARCHAR, day DATE, score DOUBLE, rank INTEGER, "
            "rule_score DOUBLE, model_score DOUBLE, booster DOUBLE, total DOUBLE)"
        )
        connection.execute("INSERT INTO scores VALUES ('A', DATE '2010-01-04', 1, 1, 0, 0, 1, 1)")
    with pytest.raises(ConfigError, match="older molehunt; run `molehunt detect`"):
        daily_queue(store)
