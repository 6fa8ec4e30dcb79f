"""The model step's conversions (the same numbers as pyarrow's, no pandas import), and a
detector fitted ahead of the run that needs it."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from molehunt.detect import model_run
from molehunt.detect.model_run import PERIOD_DAYS, FittedModels, _float_values, fit_ahead
from molehunt.ingest import ingest_cert
from molehunt.score import run_detection
from molehunt.simulate import SimulationConfig, simulate
from molehunt.store import Store


def test_float_values_equal_pyarrow_conversion_with_nulls_as_zero() -> None:
    columns = [
        pa.chunked_array([pa.array([1.5, None, -3.0]), pa.array([None, 4.25])]),
        pa.chunked_array([pa.array([7, None, 9, 10], pa.int32()).slice(1)]),  # an offset
        pa.chunked_array([pa.array([True, None, False])]),
        pa.chunked_array([pa.array([0.5, float("nan"), float("inf")])]),
        pa.chunked_array([pa.array([2, 3], pa.int64())]),
    ]
    for column in columns:
        expected = np.nan_to_num(column.to_numpy().astype(np.float64))
        got = np.nan_to_num(_float_values(column).copy())
        assert got.dtype == np.float64
        np.testing.assert_array_equal(got, expected)


def test_a_nightly_detect_with_a_kept_model_does_not_import_pandas(tmp_path: Path) -> None:
    # pyarrow's to_numpy of a column with NULLs (and pa.array of Python values) imports pandas:
    # 0.2-0.7 s of every nightly `molehunt detect` process, more than its model step.
    simulate(SimulationConfig(outdir=tmp_path / "sim", users=20, days=45, seed=3))
    workspace = tmp_path / "ws"
    with Store.open(workspace) as store:
        ingest_cert(store, tmp_path / "sim")
        first = store.query("SELECT min(time)::DATE FROM events")[0][0]
        # Into the second model period, whose forest is then kept for the next day.
        run_detection(store, until=first + timedelta(days=PERIOD_DAYS + 5))
    next_day = (first + timedelta(days=PERIOD_DAYS + 6)).isoformat()
    script = textwrap.dedent(
        f"""
        import sys
        from datetime import date
        from pathlib import Path
        from molehunt.score import run_detection
        from molehunt.store import Store
        with Store.open(Path({str(workspace)!r})) as store:
            summary = run_detection(store, until=date.fromisoformat({next_day!r}))
        assert summary.user_days > 0, summary
        print("pandas" in sys.modules, "sklearn" in sys.modules)
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=300
    )
    assert done.stdout.strip() == "False False", done.stderr


SCORES = "SELECT user, day, score, model_score FROM scores ORDER BY day, user"


def _detected(workspace: Path, sim: Path) -> date:
    """Ingest `sim` into `workspace` and detect through the first model period's last day."""
    with Store.open(workspace) as store:
        ingest_cert(store, sim)
        first = store.query("SELECT min(time)::DATE FROM events")[0][0]
        run_detection(store, until=first + timedelta(days=PERIOD_DAYS - 1))
    return first


def test_a_detector_fitted_ahead_gives_the_scores_of_the_run_that_would_fit_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sim = tmp_path / "sim"
    simulate(SimulationConfig(outdir=sim, users=20, days=45, seed=3))
    first = _detected(tmp_path / "plain", sim)
    last = first + timedelta(days=PERIOD_DAYS - 1)  # the next day opens the second period
    with Store.open(tmp_path / "plain") as store:
        run_detection(store, until=last + timedelta(days=5))  # fits the second period's forest
        expected = store.query(SCORES)
    _detected(tmp_path / "ahead", sim)
    with Store.open(tmp_path / "ahead") as store:
        fit = fit_ahead(store, last)
        assert fit is not None
        ahead = fit()
        assert ahead.start == last + timedelta(days=1)
        assert ahead.model is not None
        # Not for a run after another day, nor for another detector or seed.
        for since, seed in ((last - timedelta(days=1), 0), (last, 1)):
            models = FittedModels("isolation_forest", seed)
            models.adopt(ahead, since)
            assert not models.fitted
        with monkeypatch.context() as patched:

            def no_fit(*_args: object) -> None:
                raise AssertionError("the run fitted a detector it was given")

            patched.setattr(model_run, "_fit_period", no_fit)
            run_detection(store, until=last + timedelta(days=5), ahead=ahead)
        assert store.query(SCORES) == expected
        # Kept with the scores, as a fitted one is: nothing left to fit ahead.
        assert fit_ahead(store, last + timedelta(days=5)) is None
