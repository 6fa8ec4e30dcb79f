"""Quality floor on a seed never used for tuning (seed 23): insiders rank near the top."""

from __future__ import annotations

from sklearn.metrics import roc_auc_score

from molehunt.store import Store
from tests.score.conftest import Simulated

# Scenarios whose signal lies in behaviour alone (the others need classified-document context).
BEHAVIOURAL = {"departing-classified-theft", "cert-1", "cert-2", "cert-3", "cert-4", "cert-5"}
TOP = 1  # of 150 people: the budget of 5 per 1,000 (0.75, at least 1)
AUC_FLOOR = 0.88  # measured 0.908 on seed 23 the first time it was run (issue 9's design, the
# simulator calibrated on real r4.2 insiders); seed 21, used before, measured 0.945 on the
# previous design and simulator, 0.904 now


def test_behavioural_insiders_reach_the_top_of_the_queue(unseen: Simulated) -> None:
    with Store.open(unseen.workspace, read_only=True) as store:
        missed = []
        for incident in unseen.incidents:
            if incident.scenario not in BEHAVIOURAL:
                continue
            best = store.query(
                "SELECT min(rank) FROM scores WHERE user = ? AND day BETWEEN ? AND ?",
                [incident.user, incident.start, incident.end],
            )[0][0]
            if best is None or best > TOP:
                missed.append((incident.scenario, incident.user, best))
    assert missed == []


def test_user_day_auc_floor(unseen: Simulated) -> None:
    with Store.open(unseen.workspace, read_only=True) as store:
        rows = store.query("SELECT user, day, score FROM scores")
    windows = [(i.user, i.start, i.end) for i in unseen.incidents]
    labels = [int(any(u == user and a <= day <= b for u, a, b in windows)) for user, day, _ in rows]
    assert roc_auc_score(labels, [score for _, _, score in rows]) >= AUC_FLOOR


def test_every_active_user_day_has_one_score_and_ranks_are_dense(unseen: Simulated) -> None:
    with Store.open(unseen.workspace, read_only=True) as store:
        assert (
            store.query("SELECT count(*) FROM features")[0]
            == store.query("SELECT count(*) FROM scores")[0]
        )
        bad = store.query(
            "SELECT day FROM scores GROUP BY day HAVING max(rank) <> count(*) "
            "OR min(score) < 0 OR max(score) > 100"
        )
        assert bad == []
