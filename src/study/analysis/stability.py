"""Do the claims hold on a second, disjoint set of seeds? Set two claims tables side by side.

    python -m study.analysis.stability FIRST SECOND --out docs/reproduction/stability.csv \
        [--readme docs/reproduction/README.md]

FIRST and SECOND are claims.csv files of two runs of the same profile on different
seeds. Only claims that SECOND tested (all their variants ran) are compared. A
claim confirmed in one and refuted in the other is a conflict; undetermined
claims are counted, not conflicts.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import pandas as pd

from study.reporting.publish import markdown_table, replace_results_block

STABILITY_START, STABILITY_END = "<!-- stability:start -->", "<!-- stability:end -->"
STABILITY_COLUMNS = [
    "claim",
    "seeds_first",
    "evidence_first",
    "verdict_first",
    "seeds_second",
    "evidence_second",
    "verdict_second",
    "conflict",
]


def stability_table(first: pd.DataFrame, second: pd.DataFrame) -> pd.DataFrame:
    """One row per claim the second run tested, with both runs' seeds, evidence and verdicts."""
    tested = second[~second["reason"].astype(str).str.startswith("not run")]
    both = first.merge(tested, on="claim", suffixes=("_first", "_second"))
    overlap = [
        set(str(a).split()) & set(str(b).split())
        for a, b in zip(both["seeds_first"], both["seeds_second"], strict=True)
    ]
    if any(overlap):
        raise ValueError(
            f"the two runs share seeds {sorted(set().union(*overlap))}: a stability check needs disjoint seeds"
        )
    both["conflict"] = [
        {a, b} == {"confirmed", "refuted"} for a, b in zip(both["verdict_first"], both["verdict_second"], strict=True)
    ]
    return both.reindex(columns=STABILITY_COLUMNS)


def stability_summary(table: pd.DataFrame) -> str:
    """'4 claims on both seed sets: 0 conflicts; undetermined: 1 on the first, 0 on the second.'"""
    return (
        f"{len(table)} claims on both seed sets: {int(table['conflict'].sum())} conflicts (confirmed on one, "
        f"refuted on the other); undetermined: {int((table['verdict_first'] == 'undetermined').sum())} on the "
        f"first, {int((table['verdict_second'] == 'undetermined').sum())} on the second"
    )


def stability_section(table: pd.DataFrame, second: pd.DataFrame) -> str:
    """The stability check in a published run's README: what ran, the summary, and the claims side by side."""
    seeds = " ".join(sorted(set(" ".join(second["seeds"].dropna().astype(str)).split()), key=int))
    shown = table.rename(columns=lambda c: c.replace("_", " "))
    return "\n".join(
        [
            "## Stability on a second set of seeds",
            "",
            f"The claims that a second run on seeds {seeds} tested (`config/stability.yaml`), beside this "
            f"run's: {stability_summary(table)}. Each seed set is judged on its own (`stability.csv`).",
            "",
            markdown_table(shown),
        ]
    )


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("first", type=Path)
    parser.add_argument("second", type=Path)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--readme", type=Path, help="a published run's README: its stability block is rewritten")
    args = parser.parse_args(argv)
    first, second = pd.read_csv(args.first), pd.read_csv(args.second)
    table = stability_table(first, second)
    table.to_csv(args.out, index=False)
    print(stability_summary(table))
    if args.readme:
        readme = args.readme.read_text()
        if STABILITY_START not in readme:
            readme += f"\n{STABILITY_START}\n{STABILITY_END}\n"
        section = stability_section(table, second)
        args.readme.write_text(replace_results_block(readme, section, STABILITY_START, STABILITY_END))


if __name__ == "__main__":
    main()
