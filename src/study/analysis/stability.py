"""Do the claims hold on a second, disjoint set of seeds? Each claim tested on each set, on both pooled, and
the two sets' rates or effects tested against each other (`study.analysis.agreement`).

    python -m study.analysis.stability FIRST SECOND --out docs/reproduction/stability.csv \\
        [--config config/config.yaml config/quick.yaml] [--readme docs/reproduction/README.md]

FIRST and SECOND are the tables folders (runs.csv) of two runs of the same profile on different
seeds. The claims, the design and the variants come from the config layers.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import pandas as pd

from study.analysis.agreement import compare_claims
from study.analysis.claims import claims_table
from study.analysis.diff import read_run_table
from study.config import load_config
from study.reporting.publish import markdown_table, replace_results_block

STABILITY_START, STABILITY_END = "<!-- stability:start -->", "<!-- stability:end -->"
SIDES = (("a", "first"), ("b", "second"))  # compare_claims' studies a and b are the first and second seed sets


def stability_table(first: pd.DataFrame, second: pd.DataFrame, config: dict) -> pd.DataFrame:
    """Per claim both seed sets tested: each set's evidence and verdict, whether they differ, and the claim on
    the pooled seeds."""
    shared = set(zip(first["variant"], first["seed"], strict=True)) & set(
        zip(second["variant"], second["seed"], strict=True)
    )
    if shared:
        raise ValueError(f"the two runs share runs {sorted(shared)}: a stability check needs disjoint seeds")
    claims, variants, design = config["claims"], config["variants"], config["design"]
    tested = [c for c in claims if {c["variant"], c.get("baseline") or c["variant"]} <= set(second["variant"])]
    a, b = (claims_table(tested, runs, variants, design) for runs in (first, second))
    pooled = claims_table(tested, pd.concat([first, second], ignore_index=True), variants, design)
    sides = {f"{name}_{side}": f"{name}_{label}" for name in ("seeds", "evidence", "verdict") for side, label in SIDES}
    table = compare_claims(a, b, design["alpha"]).rename(columns=sides)
    return table.merge(
        pooled[["claim", "seeds", "evidence", "verdict"]].rename(
            columns={"seeds": "seeds_pooled", "evidence": "evidence_pooled", "verdict": "verdict_pooled"}
        ),
        on="claim",
    )


def stability_summary(table: pd.DataFrame) -> str:
    """'5 claims on both seed sets: the sets differ on 0; pooled: 3 confirmed, 2 undetermined.'"""
    pooled = table["verdict_pooled"].value_counts()
    return (
        f"{len(table)} claims on both seed sets: the two sets differ (exact or Welch test, at the design's alpha) "
        f"on {int((table['agreement'] == 'differ').sum())}; on the pooled seeds: "
        + ", ".join(f"{count} {verdict}" for verdict, count in pooled.items())
    )


def stability_section(table: pd.DataFrame) -> str:
    """The stability check in a published run's README: what ran, the summary, and the claims side by side."""
    seeds = " ".join(sorted(set(" ".join(table["seeds_second"].dropna().astype(str)).split()), key=int))
    shown = table.drop(columns=["kind"]).rename(columns=lambda c: c.replace("_", " "))
    return "\n".join(
        [
            "## Stability on a second set of seeds",
            "",
            f"The claims that a second run on seeds {seeds} tested (`config/stability.yaml`), beside this "
            f'run\'s: {stability_summary(table)}. "No evidence they differ" is not evidence that they agree; '
            "the interval of the difference says how large a difference is still possible (`stability.csv`).",
            "",
            markdown_table(shown, decimals=3),
        ]
    )


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("first", type=Path, help="tables folder of the first seed set (runs.csv)")
    parser.add_argument("second", type=Path, help="tables folder of the second seed set")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--config", nargs="+", default=["config/config.yaml", "config/quick.yaml"])
    parser.add_argument("--readme", type=Path, help="a published run's README: its stability block is rewritten")
    args = parser.parse_args(argv)
    first, second = (read_run_table(tables / "runs.csv") for tables in (args.first, args.second))
    table = stability_table(first, second, load_config(args.config))
    table.to_csv(args.out, index=False)
    print(stability_summary(table))
    if args.readme:
        readme = args.readme.read_text()
        if STABILITY_START not in readme:
            readme += f"\n{STABILITY_START}\n{STABILITY_END}\n"
        args.readme.write_text(replace_results_block(readme, stability_section(table), STABILITY_START, STABILITY_END))


if __name__ == "__main__":
    main()
