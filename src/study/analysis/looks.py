"""Seeds added in planned looks: after each look the claims are judged, and the claims still undetermined
get the next look's seeds for the variants they involve, until every claim is settled or the last look
is done (config ``design.looks``).

Each look's judgement is a JSON record the workflow's ``look`` checkpoint writes and reads back to decide
the next look's runs. Every claim's p is Bonferroni-corrected over the planned looks
(`study.analysis.statistics.over_looks`) before Holm's adjustment, so a claim settled at an early look
keeps the study's family-wise error rate.
"""

from __future__ import annotations

import math

import pandas as pd

from study.analysis.claims import claims_table
from study.layout import planned_looks, trained_variants

LOOK_COLUMNS = ["look", "seeds_per_variant", "claim", "n_seeds", "p_value", "p_min", "p_looks", "p_adjusted", "verdict"]


def smallest_p(look: dict | None) -> dict[str, float]:
    """Each claim's smallest p over the looks up to ``look`` (none before the first)."""
    if look is None:
        return {}
    return {claim["claim"]: math.nan if claim["p_min"] is None else claim["p_min"] for claim in look["claims"]}


def _number(value) -> float | None:
    return None if value is None or pd.isna(value) else float(value)


def _plain(row: dict) -> dict:
    """A claims table row as JSON: missing values as null, NumPy scalars as Python's."""
    plain = {}
    for key, value in row.items():
        if pd.api.types.is_scalar(value) and pd.isna(value):
            value = None
        plain[key] = value.item() if hasattr(value, "item") else value
    return plain


def judge_look(runs: pd.DataFrame, previous: dict | None, config: dict) -> dict:
    """The claims judged on ``runs`` (the runs table of this look's runs) at the look after ``previous`` (the
    first when None), every column of the claims table kept, and which variants the next look trains: those of
    the claims still undetermined, none after the last look. The claims table is the final look's: each
    claim is tested once per look."""
    look = 1 if previous is None else previous["look"] + 1
    looks = planned_looks(config)
    earlier = smallest_p(previous)
    claims = claims_table(config["claims"], runs, config["variants"], config["design"], earlier)
    records, still_open = [], set()
    for claim, row in zip(config["claims"], claims.to_dict("records"), strict=True):
        p_min = min((p for p in (row["p_value"], earlier.get(row["claim"], math.nan)) if not pd.isna(p)), default=None)
        records.append(_plain(row) | {"p_min": _number(p_min)})
        if row["verdict"] == "undetermined":
            still_open |= {claim["variant"], claim.get("baseline")} - {None}
    last = look == len(looks)
    next_variants = [] if last else [variant for variant in trained_variants(config) if variant in still_open]
    return {
        "look": look,
        "looks": looks,
        "seeds_per_variant": looks[look - 1],
        "runs": sorted([variant, int(seed)] for variant, seed in zip(runs["variant"], runs["seed"], strict=True)),
        "claims": records,
        "next_variants": next_variants,
        "stop": not next_variants,
    }


def looks_table(looks: list[dict]) -> pd.DataFrame:
    """Every claim at every look taken."""
    rows = [
        {"look": look["look"], "seeds_per_variant": look["seeds_per_variant"]} | claim
        for look in looks
        for claim in look["claims"]
    ]
    return pd.DataFrame(rows, columns=LOOK_COLUMNS)


def settled_at(looks: list[dict]) -> dict[str, int]:
    """The look at which each settled claim was first confirmed or refuted."""
    settled: dict[str, int] = {}
    for look in looks:
        for claim in look["claims"]:
            if claim["verdict"] in ("confirmed", "refuted"):
                settled.setdefault(claim["claim"], look["look"])
    return settled
