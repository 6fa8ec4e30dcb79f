"""`evaluate` on a tiny case whose every figure is computed by hand in the comments."""

from __future__ import annotations

import datetime
import json
from pathlib import Path

import pytest

from molehunt.evaluate import EvaluationError, evaluate, render_evaluation
from molehunt.store import Store

D1, D2, D3 = datetime.date(2010, 1, 4), datetime.date(2010, 1, 5), datetime.date(2010, 1, 6)

# Scores per user and day. XXX0004 (cert-1) is malicious on D1 and D3; YYY0005 (cert-2) on D2;
# YYY0005 has no score on D3. AAA, BBB and CCC are innocent.
#
#            D1   D2   D3        daily ranks (score desc, ties by user id)
#   AAA0001  10   55   90        D1: BBB 1, CCC 2, XXX 3, AAA 4, YYY 5   (active 5)
#   BBB0002  40   60   30        D2: XXX 1, BBB 2, AAA 3, YYY 4, CCC 5   (active 5)
#   CCC0003  40    5   10        D3: AAA 1, XXX 2, BBB 3, CCC 4          (active 4)
#   XXX0004  40*  80   70*
#   YYY0005   0   50*   -        (* = positive user-day)
SCORES = {
    "AAA0001": (10, 55, 90),
    "BBB0002": (40, 60, 30),
    "CCC0003": (40, 5, 10),
    "XXX0004": (40, 80, 70),
    "YYY0005": (0, 50, None),
}


@pytest.fixture
def answers(tmp_path: Path) -> Path:
    """An official-format answer key: CRLF, quoted and unquoted rows, a subfolder, bad dates."""
    folder = tmp_path / "answers"
    (folder / "rhand-2").mkdir(parents=True)
    (folder / "insiders.csv").write_bytes(
        b"dataset,scenario,details,user,start,end\r\n"
        b"hand,1,rhand-1.csv,XXX0004,/04/2010 09:00:00,01/06/2010 17:00:00\r\n"
        b"hand,2,rhand-2-YYY0005.csv,YYY0005,1/5/2010 9:30:00,01/05/2010 10:00:00\r\n"
        b"other,1,rother-1.csv,ZZZ9999,02/01/2010 09:00:00,02/01/2010 10:00:00\r\n"
    )
    (folder / "rhand-1.csv").write_bytes(
        b'logon,"{A1}","01/04/2010 09:00:00","XXX0004","PC-1","Logon"\r\n'
        b"device,{A2},01/04/2010 09:05:00,XXX0004,PC-1,R:\\;R:\\x,Connect\r\n"
        b'http,{A3},01/06/2010 11:00:00,XXX0004,PC-1,http://wikileaks.org/a,"a,b",text\r\n'
    )
    (folder / "rhand-2" / "rhand-2-YYY0005.csv").write_bytes(
        b'email,"{B1}","01/05/2010 09:30:00","YYY0005","PC-2","y@home.com","","","y@dtaa.com"\r\n'
    )
    return folder


@pytest.fixture
def scored(store: Store) -> Store:
    """The workspace with the SCORES table above (rank left 0: evaluate ranks itself)."""
    with store.transaction() as connection:
        connection.execute(
            "CREATE TABLE scores(user VARCHAR, day DATE, score DOUBLE, rank INTEGER)"
        )
        for user, values in SCORES.items():
            for day, value in zip((D1, D2, D3), values, strict=True):
                if value is not None:
                    connection.execute("INSERT INTO scores VALUES (?, ?, ?, 0)", [user, day, value])
    return store


def test_evaluate_hand_computed_case_matches_every_figure(scored: Store, answers: Path) -> None:
    result = evaluate(scored, answers)
    # ZZZ9999 (dataset "other") is not in the workspace, so by default it is left out.
    assert [i.user for i in result.insiders] == ["XXX0004", "YYY0005"]
    assert (result.user_days, result.users, result.days) == (14, 5, 3)
    assert result.overall.positive_user_days == 3

    # ROC-AUC over 3 positives x 11 negatives = 33 pairs (a tie counts half):
    #   positive 40 beats 10, 0, 5, 30, 10 (5) and ties 40, 40 (+1)          -> 6
    #   positive 70 beats all but 90 and 80                                  -> 9
    #   positive 50 beats 10, 40, 40, 0, 5, 30, 10                           -> 7
    #   (6 + 9 + 7) / 33 = 2/3
    assert result.overall.roc_auc == pytest.approx(2 / 3)
    # Average precision, thresholds high to low: 90 N, 80 N, 70 P, 60 N, 55 N, 50 P, 40 x3 (1 P)
    #   at 70: precision 1/3, recall 1/3; at 50: 2/6, 2/3; at 40: 3/9, 3/3
    #   AP = 1/3 * 1/3 + 1/3 * 1/3 + 1/3 * 1/3 = 1/3
    assert result.overall.pr_auc == pytest.approx(1 / 3)

    cert1, cert2 = result.scenarios
    assert (cert1.scenario, cert2.scenario) == ("cert-1", "cert-2")
    # cert-1: positives 40 and 70 against the 11 negatives: (6 + 9) / 22.
    # AP: at 70 precision 1/3 (recall 1/2); at 40 precision 2/8 (recall 1) -> 1/6 + 1/8 = 7/24.
    assert cert1.roc_auc == pytest.approx(15 / 22)
    assert cert1.pr_auc == pytest.approx(7 / 24)
    # cert-2: positive 50 beats 7 of 11 negatives; 4 negatives score higher -> AP = 1/5.
    assert cert2.roc_auc == pytest.approx(7 / 11)
    assert cert2.pr_auc == pytest.approx(1 / 5)

    # Budgets: with 4-5 active users every budget (b * 5 / 1000 <= 0.125 of a person) is below
    # one person a day, so it is never rounded up to a whole person: each flags the top share
    # b / 1000 of all 14 user-days instead, k = max(1, floor(14 b / 1000)) = 1 -> only the
    # highest user-day (AAA on D3, 90) is flagged. XXX0004 (window D1..D3, best daily rank 1 on
    # D2) and YYY0005 (window D2, rank 4) are both missed at every budget.
    xxx, yyy = result.insiders
    assert xxx.detected_at_budget == {1: False, 5: False, 10: False, 25: False}
    assert (xxx.delay_days, xxx.best_rank, xxx.scored_days, xxx.malicious_days) == (None, 1, 3, 2)
    assert yyy.detected_at_budget == {1: False, 5: False, 10: False, 25: False}
    assert (yyy.delay_days, yyy.best_rank) == (None, 4)
    assert result.overall.detected_at_budget == {1: 0, 5: 0, 10: 0, 25: 0}
    assert (result.overall.median_delay, result.overall.worst_delay) == (None, None)
    assert [i.user for i in result.missed] == ["XXX0004", "YYY0005"]
    assert any("too few active people for one flag" in note for note in result.notes)

    # Top 0.1%, 0.3%, 1% and 5% of 14 user-days: k = max(1, floor(0.7 or less)) = 1 ->
    # threshold 90 (AAA on D3); the insiders' malicious days score 40, 70 and 50 -> nobody.
    assert result.overall.detected_at_top_fraction == {0.001: 0, 0.003: 0, 0.01: 0, 0.05: 0}
    # Nor counting the run-up (XXX0004 from 7 days before D1: 40, 80, 70; YYY0005: 0, 50).
    assert result.overall.run_up_at_budget == {1: 0, 5: 0, 10: 0, 25: 0}

    # Innocents (AAA, BBB, CCC) per 1,000 active users per day:
    #   score >= 50: D1 none (0), D2 AAA + BBB (2/5 -> 400), D3 AAA (1/4 -> 250) -> mean 650/3
    #   at 5 per 1,000 (the top user-day): D3 AAA (1/4 -> 250) -> mean 250/3
    assert result.innocents_at_threshold == pytest.approx(650 / 3)
    assert result.innocents_at_budget == pytest.approx(250 / 3)
    assert result.unscored == ()


def test_evaluate_malformed_start_falls_back_to_first_observable(
    scored: Store, answers: Path
) -> None:
    result = evaluate(scored, answers)
    assert any("malformed start '/04/2010 09:00:00'" in note for note in result.notes)
    assert result.insiders[0].first_day == D1


@pytest.mark.parametrize("dataset", ["other", " other "])
def test_evaluate_explicit_dataset_keeps_absent_insider_as_missed(
    scored: Store, answers: Path, dataset: str
) -> None:
    result = evaluate(scored, answers, dataset=dataset)
    assert [i.user for i in result.insiders] == ["ZZZ9999"]
    assert result.unscored == ("ZZZ9999",)
    assert result.overall.detected_at_budget[5] == 0
    assert result.overall.roc_auc is None  # no positive user-day among the scores
    assert "ZZZ9999" in render_evaluation(result)


def test_evaluate_without_scores_table_says_run_detect(store: Store, answers: Path) -> None:
    with pytest.raises(EvaluationError, match=r"no scores: run `molehunt detect` first"):
        evaluate(store, answers)


def test_evaluate_empty_scores_table_says_run_detect(store: Store, answers: Path) -> None:
    with store.transaction() as connection:
        connection.execute(
            "CREATE TABLE scores(user VARCHAR, day DATE, score DOUBLE, rank INTEGER)"
        )
    with pytest.raises(EvaluationError, match=r"run `molehunt detect` first"):
        evaluate(store, answers)


def test_evaluate_no_matching_incident_raises(scored: Store, answers: Path) -> None:
    with pytest.raises(EvaluationError, match=r"no incident of dataset 4\.2"):
        evaluate(scored, answers, dataset="r4.2")


def test_evaluation_to_dict_is_json_with_string_keys(scored: Store, answers: Path) -> None:
    data = json.loads(json.dumps(evaluate(scored, answers).to_dict()))
    assert data["roc_auc"] == pytest.approx(2 / 3)
    assert data["overall"]["detected_at_budget"] == {"1": 0, "5": 0, "10": 0, "25": 0}
    assert data["overall"]["detected_at_top_fraction"] == {"0.1%": 0, "0.3%": 0, "1%": 0, "5%": 0}
    assert data["overall"]["run_up_at_budget"] == {"1": 0, "5": 0, "10": 0, "25": 0}
    assert data["overall"]["run_up_days"] == 7
    assert data["insiders"][0]["first_day"] == "2010-01-04"
    assert data["missed"] == ["XXX0004", "YYY0005"]


def test_render_evaluation_shows_table_rows_and_misses(scored: Store, answers: Path) -> None:
    text = render_evaluation(evaluate(scored, answers))
    lines = text.splitlines()
    assert "user-day ROC-AUC 0.667   PR-AUC 0.333" in lines
    header = next(line for line in lines if line.startswith("scenario"))
    assert header.split() == [
        "scenario", "insiders", "ROC-AUC", "PR-AUC", "1/1000", "5/1000", "10/1000", "25/1000",
        "top", "0.1%", "top", "0.3%", "top", "1%", "top", "5%", "median", "delay", "worst",
        "delay",
    ]  # fmt: skip
    assert next(line for line in lines if line.startswith("all")).split() == [
        "all", "2", "0.667", "0.333", "0/2", "0/2", "0/2", "0/2", "0/2", "0/2", "0/2", "0/2", "-",
        "-",
    ]  # fmt: skip
    assert "  YYY0005 (cert-2, 2010-01-05 .. 2010-01-05, best rank 4)" in lines
