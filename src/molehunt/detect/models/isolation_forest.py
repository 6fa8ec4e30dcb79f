"""Isolation forest (scikit-learn) over user-day feature vectors.

scikit-learn fits the forest; the fitted trees are then kept as plain arrays and scored with
numpy, exactly as `IsolationForest.score_samples` scores them. A kept detector (the model
cache of `molehunt.detect.model_run`) therefore unpickles without importing scikit-learn,
which takes about 2 s of a nightly `molehunt detect` process.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from molehunt.detect.models.base import BaseDetector, Matrix

_LEAF = -1  # scikit-learn's TREE_LEAF: a node without children


class IsolationForestDetector(BaseDetector):
    """Isolation forest: rows that few random splits isolate score high.

    Args:
        n_estimators: Trees.
        max_samples: Rows per tree.
        random_state: Seed.
    """

    def __init__(
        self, n_estimators: int = 100, max_samples: int = 256, random_state: int = 0
    ) -> None:
        super().__init__(random_state)
        self.n_estimators = n_estimators
        self.max_samples = max_samples

    def _fit(self, matrix: Matrix) -> None:
        # Imported here: scikit-learn takes about a second to import, and every command
        # (`ingest`, `watch`, `status`) would pay it at start without fitting anything.
        from sklearn.ensemble import IsolationForest
        from sklearn.ensemble._iforest import _average_path_length

        forest = IsolationForest(
            n_estimators=self.n_estimators,
            max_samples=min(self.max_samples, matrix.shape[0]),
            random_state=self.random_state,
            n_jobs=1,
        ).fit(matrix)
        # All features, in their order, for every tree (max_features=1.0, no bootstrap):
        # scikit-learn scores each tree on the rows as they are.
        self.trees_ = [
            _Tree(
                tree.tree_.feature,
                tree.tree_.threshold,
                tree.tree_.children_left,
                tree.tree_.children_right,
                path_lengths,
                average_lengths,
            )
            for tree, path_lengths, average_lengths in zip(
                forest.estimators_,
                forest._decision_path_lengths,
                forest._average_path_length_per_tree,
                strict=True,
            )
        ]
        self.denominator_ = float(
            len(forest.estimators_) * _average_path_length([forest._max_samples])[0]
        )
        # While the fitting process lasts, its scikit-learn trees find the leaves (compiled
        # code, ten times faster than the arrays' numpy walk: the training rows and the new
        # days of a long run are scored right after the fit). Not pickled: a kept forest
        # walks its arrays, the same leaves.
        self._fitted_trees = [tree.tree_ for tree in forest.estimators_]

    def _raw_score(self, matrix: Matrix) -> Matrix:
        # `-IsolationForest.score_samples`: rows as float32 (its validation), each tree's
        # leaf depth plus the average path length of the leaf's samples, summed tree by tree.
        rows = np.ascontiguousarray(matrix, dtype=np.float32)
        fitted = getattr(self, "_fitted_trees", None)
        depths = np.zeros(rows.shape[0])
        for number, tree in enumerate(self.trees_):
            leaves = tree.leaves(rows) if fitted is None else fitted[number].apply(rows)
            depths += tree.path_lengths[leaves] + tree.average_lengths[leaves] - 1.0
        if self.denominator_ == 0:  # one training row: scikit-learn scores 1 (2 ** -1)
            return np.full(rows.shape[0], 0.5)
        return np.asarray(2 ** (-(depths / self.denominator_)), dtype=np.float64)

    def __getstate__(self) -> dict[str, object]:
        """Pickle without the scikit-learn trees (a kept forest loads without it)."""
        state = dict(self.__dict__)
        state.pop("_fitted_trees", None)
        return state


class _Tree:
    """One fitted isolation tree as arrays (node -> feature, threshold, children)."""

    def __init__(
        self,
        feature: NDArray[np.intp],
        threshold: NDArray[np.float64],
        left: NDArray[np.intp],
        right: NDArray[np.intp],
        path_lengths: NDArray[np.float64],
        average_lengths: NDArray[np.float64],
    ) -> None:
        self.feature = np.asarray(feature, dtype=np.intp)
        self.threshold = np.asarray(threshold, dtype=np.float64)
        self.left = np.asarray(left, dtype=np.intp)
        self.right = np.asarray(right, dtype=np.intp)
        self.path_lengths = np.asarray(path_lengths, dtype=np.float64)
        self.average_lengths = np.asarray(average_lengths, dtype=np.float64)

    def leaves(self, rows: NDArray[np.float32]) -> NDArray[np.intp]:
        """The leaf each row falls in (`DecisionTreeRegressor.apply`: left when <= threshold)."""
        node = np.zeros(rows.shape[0], dtype=np.intp)
        index = np.arange(rows.shape[0])
        while True:
            inner = self.left[node] != _LEAF
            if not inner.any():
                return node
            at, here = index[inner], node[inner]
            goes_left = rows[at, self.feature[here]] <= self.threshold[here]
            node[at] = np.where(goes_left, self.left[here], self.right[here])
