"""Score user-days with an unsupervised detector refitted every period on earlier days only.

A period's detector depends only on the feature rows of the `TRAINING_DAYS` days before the
period, which are never recomputed once their days are committed; so the fitted detector is
kept in the workspace (`model_cache`, written with the scores of the run that fitted it) and
reused by later runs of the same period (a one-day run, each day close of `watch`) instead of
being refitted from the same rows.
"""

from __future__ import annotations

import pickle
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from importlib import metadata

import numpy as np
import pyarrow as pa

from molehunt.detect.models import detectors
from molehunt.detect.models.base import BaseDetector, Matrix
from molehunt.features.catalog import load_features
from molehunt.store.database import Store, Transaction

PERIOD_DAYS = 30
TRAINING_DAYS = 180
MAX_TRAINING_ROWS = 20_000
MIN_TRAINING_ROWS = 200
# Fitted detectors kept: those of the newest periods only (about 1.3 MB each for the isolation
# forest); an older period is needed again only after a reset or a run set back, which refit.
KEPT_MODELS = 2
MODEL_CACHE_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS model_cache (start DATE, detector VARCHAR, seed BIGINT, "
    "libraries VARCHAR, model BLOB)"
)
# What `score_days` returns.
_SCORES_SCHEMA = pa.schema(
    [("user", pa.string()), ("day", pa.date32()), ("model_score", pa.float64())]
)


def _libraries() -> str:
    """The versions a pickled detector depends on: another version refits instead."""
    return ",".join(f"{name}={metadata.version(name)}" for name in ("numpy", "scikit-learn"))


class FittedModels:
    """The detectors of model periods, fitted in this run or kept from earlier runs.

    A kept detector is used only when every one of its training days was committed before
    this run (the period starts at most one day after the last computed day): rows after
    the last computed day may be recomputed (a killed run's, or a run set back), and a
    detector fitted on them is not trusted. `None` stands for "too little history: zeros".

    Args:
        detector: Key of `detectors`.
        seed: Seed of the detector and the training sample.
    """

    def __init__(self, detector: str, seed: int) -> None:
        self.detector, self.seed = detector, seed
        self.fitted: dict[date, BaseDetector | None] = {}
        self.new: set[date] = set()

    @classmethod
    def load(cls, store: Store, detector: str, seed: int, since: date | None) -> FittedModels:
        """Read the kept detectors whose training days all lie on or before `since`.

        Args:
            store: The workspace.
            detector: Key of `detectors`.
            seed: Seed.
            since: Last day already computed (None: nothing is kept).

        Returns:
            The detectors found (maybe none).
        """
        models = cls(detector, seed)
        if (
            since is None
            or not store.query(
                "SELECT count(*) FROM duckdb_tables() WHERE table_name = 'model_cache'"
            )[0][0]
        ):
            return models
        rows = store.query(
            "SELECT start, model FROM model_cache WHERE detector = ? AND seed = ? "
            "AND libraries = ? AND start <= ?",
            [detector, seed, _libraries(), since + timedelta(days=1)],
        )
        for start, blob in rows:
            models.fitted[start] = None if blob is None else pickle.loads(blob)
        return models

    def adopt(self, ahead: FittedAhead | None, since: date | None) -> None:
        """Use a detector fitted ahead (`fit_ahead`) by a run that starts after `since`.

        It is taken only when it was fitted after that same last computed day, for this
        detector and seed, and no kept detector covers its period; it is then saved with
        the run's scores as if the run had fitted it.

        Args:
            ahead: The detector fitted ahead (None: nothing).
            since: The run's last computed day.
        """
        if (
            ahead is None
            or ahead.since != since
            or (ahead.detector, ahead.seed) != (self.detector, self.seed)
            or ahead.start in self.fitted
        ):
            return
        self.fitted[ahead.start] = ahead.model
        self.new.add(ahead.start)

    def save(self, connection: Transaction) -> None:
        """Write the detectors fitted in this run (in the transaction that commits the days
        they were fitted before) and drop all but the newest `KEPT_MODELS`.

        Args:
            connection: The transaction committing the run's scores.
        """
        connection.execute(MODEL_CACHE_SCHEMA)
        for start in sorted(self.new):
            fitted = self.fitted[start]
            connection.execute(
                "DELETE FROM model_cache WHERE start = ? AND detector = ? AND seed = ?",
                [start, self.detector, self.seed],
            )
            connection.execute(
                "INSERT INTO model_cache VALUES (?, ?, ?, ?, ?)",
                [
                    start,
                    self.detector,
                    self.seed,
                    _libraries(),
                    None if fitted is None else pickle.dumps(fitted, protocol=5),
                ],
            )
        self.new.clear()
        connection.execute(
            f"""DELETE FROM model_cache WHERE start NOT IN (
                SELECT DISTINCT start FROM model_cache ORDER BY start DESC LIMIT {KEPT_MODELS})"""
        )


@dataclass(frozen=True)
class FittedAhead:
    """The detector of the period opening the day after `since`, fitted before a run needs it.

    Args:
        since: The last computed day when it was fitted.
        detector: Key of `detectors`.
        seed: Seed.
        start: First day of its period.
        model: The detector (None: too little history to fit one).
    """

    since: date
    detector: str
    seed: int
    start: date
    model: BaseDetector | None


def fit_ahead(
    store: Store, since: date, detector: str = "isolation_forest", seed: int = 0
) -> Callable[[], FittedAhead] | None:
    """Prepare the fit of the detector of the period the day after `since` falls in, ahead of
    the run that needs it, when none is kept for that period.

    For a process that computes days as they come (`watch`): the first run of each period
    would otherwise fit it (a fraction of a second at 1,000 people) while new lines and
    alerts wait. Its training days all lie on or before `since`, so they are committed and
    final, and the run after `since` would fit the same detector on the same rows (the
    sample is seeded by the period). The rows are read now, in the caller's thread; the
    function returned fits them without touching the workspace, so another thread can run
    it while the caller goes on.

    Args:
        store: The workspace.
        since: The last computed day.
        detector: Key of `detectors`.
        seed: Seed of the detector and the training sample.

    Returns:
        The fit, whose result goes to `run_detection(ahead=...)`; None when a detector is kept
        for that period (or no day was computed yet).
    """
    tables = {row[0] for row in store.query("SELECT table_name FROM duckdb_tables()")}
    if "features" not in tables:
        return None
    origin = store.query("SELECT min(day) FROM features")[0][0]
    if origin is None:
        return None
    start = period_start(since + timedelta(days=1), origin)
    if (
        "model_cache" in tables
        and store.query(
            "SELECT count(*) FROM model_cache WHERE start = ? AND detector = ? AND seed = ? "
            "AND libraries = ?",
            [start, detector, seed, _libraries()],
        )[0][0]
    ):
        return None
    training = _training_rows(store, start)
    return lambda: FittedAhead(
        since, detector, seed, start, _fit_rows(training, start, detector, seed)
    )


def model_columns() -> list[str]:
    """Return the SQL expressions of the model's feature vector, in order.

    Deviations from own past and peers (clipped), first-time flags and log counts of the
    risk-bearing raw features; features marked `model: false` in `features.yaml` are left out.

    Returns:
        SQL expressions over `features`.
    """
    columns: list[str] = []
    for feature in load_features():
        if not feature.model:
            continue
        if feature.baseline:
            columns.append(f"least(greatest(coalesce(z_own_{feature.name}, 0), -5), 20)")
            columns.append(f"least(greatest(coalesce(z_peer_{feature.name}, 0), -5), 20)")
        if feature.first:
            columns.append(f"first_{feature.name}")
        if feature.evidence and not feature.baseline:
            columns.append(f"ln(1 + {feature.name})")
    return columns


def period_start(day: date, origin: date) -> date:
    """Return the first day of the model period holding `day`.

    Args:
        day: A day.
        origin: The first day of data.

    Returns:
        origin + 30 * k days, the latest such day <= `day`.
    """
    return origin + timedelta(days=PERIOD_DAYS * ((day - origin).days // PERIOD_DAYS))


def _matrix(store: Store, where: str) -> tuple[pa.Table, Matrix]:
    """((user, day) of each row, the model columns as a matrix), ordered by day and user."""
    columns = ", ".join(model_columns())
    sql = f"SELECT user, day, {columns} FROM features WHERE {where} ORDER BY day, user"
    table = store.cursor().sql(sql).to_arrow_table()
    keys = table.select([0, 1])
    if table.num_rows == 0:
        return keys, np.zeros((0, table.num_columns - 2))
    # Column by column into a column-major matrix (each column one contiguous write), then
    # NULL / NaN -> 0 in place: the same values as stacking converted columns, at a third of
    # the cost.
    values = np.empty((table.num_rows, table.num_columns - 2), dtype=np.float64, order="F")
    for i in range(2, table.num_columns):
        values[:, i - 2] = _float_values(table.column(i))
    return keys, np.nan_to_num(values, copy=False)


def _float_values(column: pa.ChunkedArray) -> Matrix:
    """A numeric column as float64 values, NULL as 0 (as NaN becomes in `_matrix`).

    Straight from the Arrow buffers: pyarrow's `to_numpy(zero_copy_only=False)` of a column
    with NULLs, like `pa.scalar`, imports pandas, and that import was 0.4-0.7 s of every
    `molehunt detect` process.
    """
    array = column.combine_chunks()
    if array.type != pa.float64():
        array = array.cast(pa.float64())
    validity, data = array.buffers()
    values = np.frombuffer(data, np.float64, len(array), array.offset * 8)
    if not array.null_count:
        return values
    bits = np.unpackbits(np.frombuffer(validity, np.uint8), bitorder="little")
    return np.where(bits[array.offset : array.offset + len(array)], values, 0.0)


def score_days(
    store: Store,
    since: date | None,
    until: date,
    detector: str = "isolation_forest",
    seed: int = 0,
    models: FittedModels | None = None,
) -> pa.Table:
    """Return model scores for the user-days of (since, until].

    The detector that scores a day of period P was fitted on (a seeded sample of) the
    `TRAINING_DAYS` days before P's first day, so it never saw that day or any later one.
    Days in the first period, or with too little history, get score 0.

    Args:
        store: The workspace.
        since: Last day already scored (None: from the start).
        until: Last day to score.
        detector: Key of `detectors`.
        seed: Random seed of the detector and the training sample.
        models: Detectors already fitted (used instead of refitting) and where the ones
            fitted now are added; None fits every period it scores.

    Returns:
        Arrow table (user, day, model_score).
    """
    low = "DATE '1900-01-01'" if since is None else f"DATE '{since.isoformat()}'"
    origin_row = store.query("SELECT min(day) FROM features")
    keys_out: list[pa.Table] = []
    scores_out: list[Matrix] = []
    if origin_row and origin_row[0][0] is not None:
        origin: date = origin_row[0][0]
        if models is None:
            models = FittedModels(detector, seed)
        first = max(origin, since + timedelta(days=1)) if since is not None else origin
        start = period_start(first, origin)
        # One period at a time: only one period's rows are in memory (a full run of 500
        # days held all of them, about 0.5 GB at 1,000 people, beside DuckDB's buffers).
        while start <= until:
            end = min(until, start + timedelta(days=PERIOD_DAYS - 1))
            keys, matrix = _matrix(
                store,
                f"day > {low} AND day >= DATE '{start.isoformat()}' "
                f"AND day <= DATE '{end.isoformat()}'",
            )
            if keys.num_rows:
                keys_out.append(keys)
                scores_out.append(_score_period(store, start, matrix, models))
            start += timedelta(days=PERIOD_DAYS)
    if not keys_out:
        return _SCORES_SCHEMA.empty_table()
    scores = np.ascontiguousarray(np.concatenate(scores_out), dtype=np.float64)
    # From the buffer, not pa.array: pyarrow's pa.array imports pandas (0.2-0.4 s).
    column = pa.Array.from_buffers(pa.float64(), len(scores), [None, pa.py_buffer(scores)])
    keys = pa.concat_tables(keys_out).cast(_SCORES_SCHEMA.remove(2))
    return keys.append_column("model_score", column)


def _score_period(store: Store, start: date, rows: Matrix, models: FittedModels) -> Matrix:
    if start not in models.fitted:
        models.fitted[start] = _fit_period(store, start, models.detector, models.seed)
        models.new.add(start)
    model = models.fitted[start]
    return np.zeros(rows.shape[0]) if model is None else model.score(rows)


def _fit_period(store: Store, start: date, detector: str, seed: int) -> BaseDetector | None:
    """The detector of the period starting `start` (None: too little history to fit one)."""
    return _fit_rows(_training_rows(store, start), start, detector, seed)


def _training_rows(store: Store, start: date) -> Matrix:
    """The feature rows the detector of the period starting `start` is fitted on."""
    first = start - timedelta(days=TRAINING_DAYS)
    _, training = _matrix(
        store, f"day >= DATE '{first.isoformat()}' AND day < DATE '{start.isoformat()}'"
    )
    return training


def _fit_rows(training: Matrix, start: date, detector: str, seed: int) -> BaseDetector | None:
    """Fit the period's detector on its training rows (a seeded sample of at most
    `MAX_TRAINING_ROWS`); None when there are fewer than `MIN_TRAINING_ROWS`."""
    if training.shape[0] < MIN_TRAINING_ROWS:
        return None
    generator = np.random.default_rng([seed, start.toordinal()])
    if training.shape[0] > MAX_TRAINING_ROWS:
        training = training[generator.choice(training.shape[0], MAX_TRAINING_ROWS, replace=False)]
    return detectors[detector](random_state=seed).fit(training)
