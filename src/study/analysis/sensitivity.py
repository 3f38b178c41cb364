"""Where the lecture's story holds: each cell of the sensitivity map (config ``sensitivity``) judged as the study
is, from its runs.

Per cell and variant, the rate of learning with its Clopper-Pearson interval; per cell, the claims whose
variants all ran there, tested and Holm-adjusted within the cell as the claims table does (one look: a cell
is judged once). A cell's claims describe where a claim holds: three seeds a cell cannot confirm one. What
the map can confirm is its pre-registered hypothesis, in the protocol: for each variant, fewer runs learn as
``sensitivity.trend_along`` grows (an exact trend test stratified by the other keys, Holm over the variants),
reported as the map's own claims, cell "all".
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import pandas as pd

from study.analysis.claims import claims_table
from study.analysis.outcomes import LEARNING
from study.analysis.statistics import holm, rate_test, trend_test
from study.analysis.tables import read_runs, runs_table
from study.layout import cells, split_cell_variant

CLAIM_COLUMNS = ["claim", "evidence", "p_adjusted", "verdict"]  # as published, with study.reporting's evidence


def _marks(config: dict, variant: str, values: dict) -> dict:
    """Whether a cell is this profile's own setting of the variant, and whether it is the lecture's."""
    spec, lecture = config["variants"][variant], config["sensitivity"]["lecture"]
    return {
        "profile_cell": all(spec[key] == value for key, value in values.items()),
        "lecture_cell": bool(lecture) and all(lecture.get(key) == value for key, value in values.items()),
    }


def by_cell(runs: pd.DataFrame) -> pd.DataFrame:
    """The runs with each cell variant split into its variant and its cell."""
    split = runs["variant"].map(split_cell_variant)
    return runs.assign(variant=split.str[0], cell=split.str[1])


def rates_table(runs: pd.DataFrame, config: dict) -> pd.DataFrame:
    """One row per cell and variant: the grid's values, the seeds that learned (learns or overfits) and the rate
    with its 95% Clopper-Pearson interval."""
    runs = by_cell(runs)
    rows = []
    for cell, values in cells(config["sensitivity"]):
        for variant in config["sensitivity"]["variants"]:
            mine = runs[(runs["cell"] == cell) & (runs["variant"] == variant)]
            learned = int(mine["outcome"].isin(LEARNING).sum())
            estimate = rate_test(learned, len(mine), config["design"]["rate_threshold"])
            rows.append(
                {"cell": cell, **values, "variant": variant, "n_seeds": len(mine), "n_learned": learned}
                | {"rate": estimate.value, "rate_low": estimate.low, "rate_high": estimate.high}
                | _marks(config, variant, values)
            )
    return pd.DataFrame(rows)


def claims_by_cell(runs: pd.DataFrame, config: dict) -> pd.DataFrame:
    """One row per cell and claim whose variants all ran in the map: the claims table's columns in that cell,
    with the cell and its grid values first."""
    runs = by_cell(runs)
    mapped = set(config["sensitivity"]["variants"])
    tested = [c for c in config["claims"] if {c["variant"], c.get("baseline") or c["variant"]} <= mapped]
    parts = []
    one_look = config["design"] | {"looks": []}  # a cell is judged once, on all its seeds: no correction over looks
    for cell, values in cells(config["sensitivity"]):
        judged = claims_table(tested, runs[runs["cell"] == cell], config["variants"], one_look, with_power=False)
        parts.append(judged.assign(cell=cell, **values))
    columns = ["cell", *config["sensitivity"]["grid"]]
    if not parts:
        return pd.DataFrame(columns=columns + CLAIM_COLUMNS)
    judged = pd.concat(parts, ignore_index=True)
    return judged[columns + [column for column in judged if column not in columns]]


ALL_CELLS = "all"


def trend_key(sensitivity: dict) -> str:
    """The grid key the map's hypothesis is about: ``trend_along``, or the grid's first key."""
    return sensitivity.get("trend_along") or next(iter(sensitivity["grid"]))


def trend_hypothesis(sensitivity: dict) -> list[str]:
    """The map's pre-registered claims, one per variant, in words (the protocol records them)."""
    along = trend_key(sensitivity)
    return [f"fewer runs of {variant} learn as {along} increases" for variant in sensitivity["variants"]]


def trend_claims(rates: pd.DataFrame, config: dict) -> pd.DataFrame:
    """Per variant, the exact two-sided trend test of learning against the ranks of ``trend_along``'s values,
    stratified by the cells of the other keys; Holm over the variants at the design's alpha. Confirmed when
    fewer learn as the key grows, refuted when more do."""
    sensitivity, alpha = config["sensitivity"], config["design"]["alpha"]
    along = trend_key(sensitivity)
    ranks = {value: rank for rank, value in enumerate(sorted(sensitivity["grid"][along]))}
    others = [key for key in sensitivity["grid"] if key != along]
    rows = []
    for claim, variant in zip(trend_hypothesis(sensitivity), sensitivity["variants"], strict=True):
        mine = rates[rates["variant"] == variant]
        groups = mine.groupby(others, sort=True) if others else [((), mine)]
        strata = [
            [(ranks[row[along]], int(row["n_seeds"]), int(row["n_learned"])) for _, row in stratum.iterrows()]
            for _, stratum in groups
        ]
        fewer = trend_test(strata, alternative="less") < trend_test(strata, alternative="greater")
        rows.append(
            {"claim": claim, "variant": variant, "fewer": fewer}
            | {"p_value": trend_test(strata, alternative="two-sided")}
        )
    for row, adjusted in zip(rows, holm([row["p_value"] for row in rows], alpha), strict=True):
        row["p_adjusted"] = adjusted
        row["verdict"] = "undetermined" if adjusted > alpha else "confirmed" if row["fewer"] else "refuted"
    return pd.DataFrame(rows, columns=["claim", "variant", "p_adjusted", "verdict"]).assign(cell=ALL_CELLS)


RATE_COLUMNS = ["cell", "variant", "n_seeds", "n_learned", "rate", "rate_low", "rate_high"]


@dataclass
class MapFacts:
    """What the map's tables are made from: its runs, judged (None when the config draws no map), and the
    config; its rates are computed once, for both tables."""

    runs: pd.DataFrame | None
    config: dict

    @classmethod
    def read(cls, run_dirs: list[str], config: dict) -> MapFacts:
        return cls(runs_table(read_runs(run_dirs, config["outcomes"])[0]) if run_dirs else None, config)

    @cached_property
    def rates(self) -> pd.DataFrame:
        return pd.DataFrame(columns=RATE_COLUMNS) if self.runs is None else rates_table(self.runs, self.config)


def rates_of_map(facts: MapFacts) -> pd.DataFrame:
    return facts.rates
