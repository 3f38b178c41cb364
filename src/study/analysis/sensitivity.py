"""Where the lecture's story holds: each cell of the sensitivity map (config ``sensitivity``) judged as the study
is, from its runs.

Per cell and variant, the rate of learning with its Clopper-Pearson interval; per cell, the claims whose
variants all ran there, tested and Holm-adjusted within the cell as the claims table does. The map is a
description of where a claim holds, not a confirmation: its cells are many looks at one question.
"""

from __future__ import annotations

import pandas as pd

from study.analysis.claims import claims_table
from study.analysis.outcomes import LEARNING
from study.analysis.statistics import rate_test
from study.analysis.tables import read_runs, runs_table
from study.grid import cells, split_cell_variant

CLAIM_COLUMNS = ["claim", "evidence", "p_adjusted", "verdict"]


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
    """One row per cell and claim whose variants all ran in the map: its evidence and verdict in that cell."""
    runs = by_cell(runs)
    mapped = set(config["sensitivity"]["variants"])
    tested = [c for c in config["claims"] if {c["variant"], c.get("baseline") or c["variant"]} <= mapped]
    parts = []
    for cell, values in cells(config["sensitivity"]):
        judged = claims_table(tested, runs[runs["cell"] == cell], config["variants"], config["design"])
        parts.append(judged[CLAIM_COLUMNS].assign(cell=cell, **values))
    columns = ["cell", *config["sensitivity"]["grid"], *CLAIM_COLUMNS]
    return pd.concat(parts, ignore_index=True)[columns] if parts else pd.DataFrame(columns=columns)


def write_sensitivity(run_dirs: list[str], config: dict, out: dict) -> None:
    """Write the map's rates and its claims by cell (CSV) to ``out['rates']`` and ``out['claims']``; empty
    tables when the config draws no map."""
    if run_dirs:
        runs = runs_table(read_runs(run_dirs, config["outcomes"])[0])
        rates, claims = rates_table(runs, config), claims_by_cell(runs, config)
    else:
        rates = pd.DataFrame(columns=["cell", "variant", "n_seeds", "n_learned", "rate", "rate_low", "rate_high"])
        claims = pd.DataFrame(columns=["cell", *CLAIM_COLUMNS])
    rates.to_csv(out["rates"], index=False)
    claims.to_csv(out["claims"], index=False)
