"""Do the claims hold on a second, disjoint set of seeds (config ``stability``)? Each claim tested on each set,
on both pooled, and the two sets' rates or effects tested against each other (`study.analysis.agreement`).
"""

from __future__ import annotations

import pandas as pd

from study.analysis.agreement import AGREEMENT_COLUMNS, compare_claims
from study.analysis.claims import claims_table

SIDES = (("a", "first"), ("b", "second"))  # compare_claims' studies a and b are the first and second seed sets
RENAMED = {f"{name}_{side}": f"{name}_{label}" for name in ("seeds", "evidence", "verdict") for side, label in SIDES}
POOLED = ["seeds_pooled", "evidence_pooled", "verdict_pooled"]
STABILITY_COLUMNS = [RENAMED.get(column, column) for column in AGREEMENT_COLUMNS] + POOLED


def judged_sets(first: pd.DataFrame, second: pd.DataFrame, config: dict) -> tuple[pd.DataFrame, ...]:
    """The claims both seed sets can test, judged on the first set's runs, on the second's, and on both pooled.
    Each set is judged on every claim, as the claims table does, so that the first set's verdicts are the
    study's: a claim the second set did not run is left out of its family."""
    shared = set(zip(first["variant"], first["seed"], strict=True)) & set(
        zip(second["variant"], second["seed"], strict=True)
    )
    if shared:
        raise ValueError(f"the two runs share runs {sorted(shared)}: a stability check needs disjoint seeds")
    claims, variants, design = config["claims"], config["variants"], config["design"]
    run_twice = set(second["variant"])
    tested = [c["claim"] for c in claims if {c["variant"], c.get("baseline") or c["variant"]} <= run_twice]
    return tuple(
        claims_table(claims, runs, variants, design, with_power=False).set_index("claim").loc[tested].reset_index()
        for runs in (first, second, pd.concat([first, second], ignore_index=True))
    )


def stability_table(a: pd.DataFrame, b: pd.DataFrame, pooled: pd.DataFrame, alpha: float) -> pd.DataFrame:
    """Per claim both seed sets tested (judged_sets, each with its evidence as published): each set's evidence
    and verdict, whether they differ, and the claim on the pooled seeds."""
    table = compare_claims(a, b, alpha).rename(columns=RENAMED)
    pooled = pooled[["claim", "seeds", "evidence", "verdict"]].set_axis(["claim", *POOLED], axis=1)
    return table.merge(pooled, on="claim")[STABILITY_COLUMNS]
