"""Parameter counts of every variant and of the lecture's two reference models."""

from __future__ import annotations

import keras
import pandas as pd

from study.models import REFERENCE_MODELS, build_model

INPUT_SHAPES = {"fashion_mnist": (28, 28, 1), "cifar10": (32, 32, 3)}
# Counting needs no data: standardization is a weightless rescaling layer.
PLACEHOLDER_STATS = {"mean": [0.0, 0.0, 0.0], "std": [1.0, 1.0, 1.0]}


def variant_params(spec: dict, input_shape: tuple[int, ...]) -> int:
    channels = input_shape[-1]
    stats = {k: v[:channels] for k, v in PLACEHOLDER_STATS.items()}
    model = build_model(spec, input_shape, stats)
    count = model.count_params()
    keras.backend.clear_session()
    return count


def params_table(variants: dict, input_shapes: dict) -> pd.DataFrame:
    """Rows for every variant, then each reference model with the lecture's count and a match flag."""
    rows = [
        {
            "model": name,
            "kind": "variant",
            "dataset": spec["dataset"],
            "params": variant_params(spec, input_shapes[spec["dataset"]]),
        }
        for name, spec in variants.items()
    ]
    for name, (builder, lecture_count) in REFERENCE_MODELS.items():
        count = builder().count_params()
        keras.backend.clear_session()
        rows.append(
            {
                "model": name,
                "kind": "lecture reference",
                "dataset": "",
                "params": count,
                "lecture_params": lecture_count,
                "matches_lecture": count == lecture_count,
            }
        )
    table = pd.DataFrame(rows, columns=["model", "kind", "dataset", "params", "lecture_params", "matches_lecture"])
    return table.astype({"lecture_params": "Int64", "matches_lecture": "boolean"})
