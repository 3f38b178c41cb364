"""The parameter-count table: every variant of the run, and the lecture's two reference models.

The counts come from Keras (`study.training.models.count_params`, `reference_counts`);
this module only lays them out, so it imports without TensorFlow.
"""

from __future__ import annotations

from dataclasses import dataclass

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


@dataclass(frozen=True)
class ParamsFacts:
    """Keras' counts, which the params rule's script takes from `study.training.models`: every trained variant's
    (name -> (dataset, count)) and the lecture's reference models' (name -> (count, the lecture's count))."""

    variant_counts: dict
    references: dict


def params_of_study(facts: ParamsFacts) -> pd.DataFrame:
    return params_table(facts.variant_counts, facts.references)
