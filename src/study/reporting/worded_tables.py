"""The published tables that carry words: the numbers `study.analysis` makes them from, with the words of
`claim_words` and `run_words` added. The registry (study.layout.TABLES) names these makers."""

from __future__ import annotations

import pandas as pd

from study.analysis.lecture_cell import LectureCellFacts, lecture_cell_table, ordered_runs
from study.analysis.sensitivity import CLAIM_COLUMNS, MapFacts, claims_by_cell, trend_claims, trend_key
from study.analysis.stability import STABILITY_COLUMNS, judged_sets, stability_table
from study.analysis.tables import StudyFacts, runs_table
from study.reporting.claim_words import with_evidence, worded_claims
from study.reporting.run_words import worded_runs


def claims_of_study(facts: StudyFacts) -> pd.DataFrame:
    return worded_claims(facts.claims, facts.config, facts.runs)


def runs_of_study(facts: StudyFacts) -> pd.DataFrame:
    return worded_runs(facts.runs, facts.metrics)


def stability_of_runs(first: pd.DataFrame, second: pd.DataFrame, config: dict) -> pd.DataFrame:
    """The stability table of two disjoint seed sets' runs tables, each set's claims with their evidence."""
    judged = judged_sets(first, second, config)
    return stability_table(*(with_evidence(claims) for claims in judged), config["design"]["alpha"])


def stability_of_study(facts: StudyFacts) -> pd.DataFrame:
    """The claims tested again on the stability check's own seeds (the second, disjoint seed set)."""
    if not facts.stability_metrics:
        return pd.DataFrame(columns=STABILITY_COLUMNS)
    return stability_of_runs(facts.runs, runs_table(facts.stability_metrics), facts.config)


def trend_evidence(rates: pd.DataFrame, variant: str, along: str) -> str:
    """'learned at learning rate 0.001: 3/3, 0.003: 0/3': a variant's seeds that learned at each value of the
    key its trend is tested along, over the map's other keys."""
    by_value = rates[rates["variant"] == variant].groupby(along)[["n_learned", "n_seeds"]].sum()
    counts = ", ".join(f"{value:g}: {int(r.n_learned)}/{int(r.n_seeds)}" for value, r in by_value.iterrows())
    return f"learned at {along.replace('_', ' ')} {counts}"


def claims_of_map(facts: MapFacts) -> pd.DataFrame:
    """The map's trend test over all cells (cell "all"), then its claims cell by cell, with their evidence."""
    if facts.runs is None:
        return pd.DataFrame(columns=["cell", *CLAIM_COLUMNS])
    along = trend_key(facts.config["sensitivity"])
    trends = trend_claims(facts.rates, facts.config)
    trends.insert(1, "evidence", [trend_evidence(facts.rates, variant, along) for variant in trends["variant"]])
    by_cell = with_evidence(claims_by_cell(facts.runs, facts.config))
    grid = list(facts.config["sensitivity"]["grid"])
    return pd.concat([trends[[*CLAIM_COLUMNS, "cell"]], by_cell[["cell", *grid, *CLAIM_COLUMNS]]], ignore_index=True)


def lecture_cell_of_study(facts: LectureCellFacts) -> pd.DataFrame:
    """The lecture's cell, run by run, with each run's outcome reason."""
    return worded_runs(lecture_cell_table(facts), ordered_runs(facts))
