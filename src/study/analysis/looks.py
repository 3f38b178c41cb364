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
from study.config import trained_variants

LOOK_COLUMNS = ["look", "seeds_per_variant", "claim", "n_seeds", "p_value", "p_min", "p_looks", "p_adjusted", "verdict"]


def planned_looks(config: dict) -> list[int]:
    """Seeds per variant at each look: ``design.looks``, or one look with every seed."""
    return config["design"]["looks"] or [len(config["seeds"])]


def first_look_runs(config: dict) -> list[tuple[str, int]]:
    """Every trained variant on the first look's seeds."""
    seeds = config["seeds"][: planned_looks(config)[0]]
    return [(variant, seed) for variant in trained_variants(config) for seed in seeds]


def next_look_runs(previous: dict, config: dict) -> list[tuple[str, int]]:
    """The runs of the look after ``previous``: its runs, and the new seeds of the variants it left open."""
    looks, seeds = planned_looks(config), config["seeds"]
    added = seeds[looks[previous["look"] - 1] : looks[previous["look"]]]
    return [tuple(run) for run in previous["runs"]] + [
        (variant, seed) for variant in previous["next_variants"] for seed in added
    ]


def smallest_p(look: dict | None) -> dict[str, float]:
    """Each claim's smallest p over the looks up to ``look`` (none before the first)."""
    if look is None:
        return {}
    return {claim["claim"]: math.nan if claim["p_min"] is None else claim["p_min"] for claim in look["claims"]}


def _number(value) -> float | None:
    return None if value is None or pd.isna(value) else float(value)


def judge_look(runs: pd.DataFrame, previous: dict | None, config: dict) -> dict:
    """The claims judged on ``runs`` (the runs table of this look's runs) at the look after ``previous`` (the
    first when None), and which variants the next look trains: those of the claims still undetermined, none
    after the last look."""
    look = 1 if previous is None else previous["look"] + 1
    looks = planned_looks(config)
    earlier = smallest_p(previous)
    claims = claims_table(config["claims"], runs, config["variants"], config["design"], earlier)
    records, still_open = [], set()
    for claim, row in zip(config["claims"], claims.to_dict("records"), strict=True):
        p_min = min((p for p in (row["p_value"], earlier.get(row["claim"], math.nan)) if not pd.isna(p)), default=None)
        records.append(
            {
                "claim": row["claim"],
                "n_seeds": _number(row["n_seeds"]),
                "p_value": _number(row["p_value"]),
                "p_min": _number(p_min),
                "p_looks": _number(row["p_looks"]),
                "p_adjusted": _number(row["p_adjusted"]),
                "verdict": row["verdict"],
            }
        )
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
