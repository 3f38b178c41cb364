"""The parameter-count table: every variant of the run, and the lecture's two reference models.

The counts come from Keras (`study.training.models.count_params`, `reference_counts`);
this module only lays them out, so it imports without TensorFlow.
"""

from __future__ import annotations

import pandas as pd

COLUMNS = ["model", "kind", "dataset", "params", "lecture_params", "matches_lecture"]


def params_table(variant_counts: dict[str, tuple[str, int]], references: dict[str, tuple[int, int]]) -> pd.DataFrame:
    """``variant_counts``: name -> (dataset, count); ``references``: name -> (count, the lecture's count)."""
    rows = [
        {"model": name, "kind": "variant", "dataset": dataset, "params": count}
        for name, (dataset, count) in variant_counts.items()
    ]
    rows += [
        {
            "model": name,
            "kind": "lecture reference",
            "dataset": "",
            "params": count,
            "lecture_params": lecture_count,
            "matches_lecture": count == lecture_count,
        }
        for name, (count, lecture_count) in references.items()
    ]
    table = pd.DataFrame(rows, columns=COLUMNS)
    return table.astype({"lecture_params": "Int64", "matches_lecture": "boolean"})
