"""The unsupervised model's vector: features marked `model: false` stay out of it."""

from __future__ import annotations

import re

from molehunt.detect.model_run import model_columns
from molehunt.features.catalog import base_feature, load_features


def _features_read(columns: list[str]) -> set[str]:
    """The raw features whose columns (x, z_own_x, first_x, ...) the expressions read."""
    names = set()
    for column in columns:
        for token in re.findall(r"[a-z_]+", column):
            feature = base_feature(token)
            if feature is not None:
                names.add(feature.name)
    return names


def test_model_vector_leaves_out_features_marked_model_false() -> None:
    left_out = {f.name for f in load_features() if not f.model}
    assert {"prints", "pages_printed", "documents_printed", "after_hours_prints"} <= left_out
    read = _features_read(model_columns())
    assert "usb_connects" in read and "first_usb_connects" not in read
    assert not read & left_out
    assert _features_read(["ln(1 + pages_printed)", "z_own_prints"]) == {"pages_printed", "prints"}
