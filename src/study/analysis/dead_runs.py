"""The dead-run stop's calibration: of the runs trained on with the stop off, how many the rule would have ended,
and how many of those came back.

A run that the rule would have ended (study.training.dead_runs) *came back* if any later check found no dead
layer, or if it left the loss plateau after the rule was met, or if it was judged anything but stuck. One such
run sends the rule back. Read from the runs' recorded facts: their metrics.json and the runs table.

    python -m study.analysis.dead_runs RESULTS_FOLDER

writes RESULTS_FOLDER/tables/dead_run_calibration.csv and prints the count.
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

import pandas as pd

CALIBRATION_COLUMNS = [
    "variant",
    "seed",
    "stop",
    "steps",
    "rule_met_at_step",
    "dead_layer",
    "alive_again_at_step",
    "plateau_exit_step",
    "outcome",
    "came_back",
]


def calibration_row(metrics: dict, run: pd.Series) -> dict:
    """One run's line: where the rule was met, and whether it came back after (``run``: its runs-table row)."""
    record = metrics["dead_runs"]
    met = record["rule_met_at_step"]
    later = [check for check in record["checks"] if met is not None and check["step"] > met]
    alive_again = next((check["step"] for check in later if not check["dead_layer"]), None)
    exit_step = run["plateau_exit_step"]
    left_after = met is not None and not pd.isna(exit_step) and exit_step > met
    return {
        "variant": metrics["variant"],
        "seed": metrics["seed"],
        "stop": metrics["run"]["dead_runs"]["stop"],
        "steps": metrics["steps"],
        "rule_met_at_step": met,
        "dead_layer": next((check["dead_layer"] for check in record["checks"] if check["step"] == met), None),
        "alive_again_at_step": alive_again,
        "plateau_exit_step": exit_step,
        "outcome": run["outcome"],
        "came_back": None if met is None else bool(alive_again or left_after or run["outcome"] != "stuck"),
    }


def calibration_table(metrics: list[dict], runs: pd.DataFrame) -> pd.DataFrame:
    """Every run's calibration line (``runs``: the study's runs table, judged)."""
    judged = runs.set_index(["variant", "seed"])
    rows = [calibration_row(m, judged.loc[(m["variant"], m["seed"])]) for m in metrics]
    return pd.DataFrame(rows, columns=CALIBRATION_COLUMNS).sort_values(["variant", "seed"], ignore_index=True)


def calibration_count(table: pd.DataFrame) -> dict:
    """How many runs trained on with the stop off, how many of them met the rule, and how many of those came
    back."""
    continued = table[~table["stop"].astype(bool)]
    met = continued[continued["rule_met_at_step"].notna()]
    return {
        "runs": len(continued),
        "met_rule": len(met),
        "came_back": int(met["came_back"].astype(bool).sum()),
        "median_steps_after_rule": float((met["steps"] - met["rule_met_at_step"]).median()) if len(met) else math.nan,
    }


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("results", type=Path, help="the study's folder, after its aggregate")
    results = parser.parse_args(argv).results
    metrics = [json.loads(path.read_text()) for path in sorted(results.glob("runs/*/seed_*/metrics.json"))]
    table = calibration_table(metrics, pd.read_csv(results / "tables" / "runs.csv"))
    table.to_csv(results / "tables" / "dead_run_calibration.csv", index=False)
    print(json.dumps(calibration_count(table)))


if __name__ == "__main__":
    main()
