"""Compare two finished studies: claims whose verdict changed, each run's final metrics, and how they were made.

    python -m study.reporting.diff A B [--out diff.md]

A and B are results folders (results/, read from its tables/) or published runs
(docs/reproduction/). Runs are compared seed by seed from runs.csv where both
have it, else variant by variant from summary.csv. Settings and provenance
come from provenance.json where both have it.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pandas as pd

from study.analysis.agreement import compare_claims
from study.reporting.cells import markdown_table

RUN_METRICS = {"final_train_accuracy": "train acc", "final_val_accuracy": "val acc"}
OLD_COLUMNS = {"verdict": "outcome", "verdicts": "outcomes"}


def read_run_table(path: Path) -> pd.DataFrame:
    """A runs.csv or summary.csv, with the names of studies published before a run's result was called its
    outcome ('verdict') brought up to date."""
    return pd.read_csv(path).rename(columns=OLD_COLUMNS)


SUMMARY_METRICS = {"final_train_accuracy_mean": "train acc (mean)", "final_val_accuracy_mean": "val acc (mean)"}


def tables_dir(path: Path) -> Path:
    return path / "tables" if (path / "tables").is_dir() else path


def read_study(path: Path) -> dict:
    """A study's claims, summary, runs (None when not recorded) and provenance (None when not recorded)."""
    tables = tables_dir(path)

    def optional(name, read):
        return read(tables / name) if (tables / name).exists() else None

    return {
        "claims": pd.read_csv(tables / "claims.csv"),
        "summary": read_run_table(tables / "summary.csv"),
        "runs": optional("runs.csv", read_run_table),
        "provenance": optional("provenance.json", lambda p: json.loads(p.read_text())),
    }


def changed_claims(a: pd.DataFrame, b: pd.DataFrame) -> pd.DataFrame:
    """Claims whose verdict differs between A and B, or that only one of them checked."""
    shown = ["claim", "evidence", "verdict"]
    both = a.reindex(columns=shown).merge(
        b.reindex(columns=shown), on="claim", how="outer", suffixes=(" A", " B"), sort=False
    )
    return both[both["verdict A"] != both["verdict B"]].astype(object).fillna("").reset_index(drop=True)


def claims_section(a: dict, b: dict) -> list[str]:
    """Per claim, whether the two studies' rates or effects differ, with the claims' own tests
    (`study.analysis.agreement`); for a study published before claims recorded their test, the claims whose
    verdict changed."""
    if "kind" in a["claims"] and "kind" in b["claims"]:
        design = ((a["provenance"] or {}).get("config") or {}).get("design") or {}
        alpha = design.get("alpha", 0.05)
        table = compare_claims(a["claims"], b["claims"], alpha).drop(columns=["kind"])
        title = f"## Claims: do A and B differ? (B - A, alpha {alpha:g})"
        return [title, "", markdown_table(table, decimals=3) if len(table) else "No claim was tested in both."]
    claims = changed_claims(a["claims"], b["claims"])
    return [
        "## Claims whose verdict changed",
        "",
        markdown_table(claims) if len(claims) else "None: every claim has the same verdict in A and B.",
    ]


def metric_deltas(a: pd.DataFrame, b: pd.DataFrame, keys: list[str], metrics: dict, outcome: str) -> pd.DataFrame:
    """Per row of ``keys`` in both: each metric in A and B and B - A, and the outcome A -> B."""
    both = a.merge(b, on=keys, suffixes=("_a", "_b"))
    table = both[keys].copy()
    for column, label in metrics.items():
        table[f"{label} A"] = both[f"{column}_a"]
        table[f"{label} B"] = both[f"{column}_b"]
        table[f"{label} B - A"] = both[f"{column}_b"] - both[f"{column}_a"]
    table["outcome A -> B"] = [
        x if x == y else f"{x} -> {y}" for x, y in zip(both[f"{outcome}_a"], both[f"{outcome}_b"], strict=True)
    ]
    table["s / epoch A -> B"] = [
        f"{x:.1f} -> {y:.1f}" for x, y in zip(both["seconds_per_epoch_a"], both["seconds_per_epoch_b"], strict=True)
    ]
    return table


def run_deltas(a: dict, b: dict) -> tuple[str, pd.DataFrame]:
    """Seed by seed when both studies recorded their runs, else variant by variant."""
    if a["runs"] is not None and b["runs"] is not None:
        return "variant x seed", metric_deltas(a["runs"], b["runs"], ["variant", "seed"], RUN_METRICS, "outcome")
    return "variant (mean over seeds)", metric_deltas(
        a["summary"], b["summary"], ["variant"], SUMMARY_METRICS, "outcomes"
    )


def flatten(value, prefix: str = "") -> dict[str, str]:
    """Nested mappings as 'a.b.c' -> JSON text of the leaf; lists stay whole."""
    if isinstance(value, dict):
        flat = {}
        for key, item in value.items():
            flat |= flatten(item, f"{prefix}.{key}" if prefix else str(key))
        return flat
    return {prefix: json.dumps(value, sort_keys=True)}


def provenance_changes(a: dict | None, b: dict | None) -> pd.DataFrame | None:
    """Every provenance entry (settings, devices, versions, commits, data, config) that differs."""
    if a is None or b is None:
        return None
    flat_a, flat_b = flatten(a), flatten(b)
    keys = [k for k in dict.fromkeys([*flat_a, *flat_b]) if flat_a.get(k) != flat_b.get(k)]
    return pd.DataFrame({"entry": keys, "A": [flat_a.get(k, "") for k in keys], "B": [flat_b.get(k, "") for k in keys]})


def diff_markdown(a_path: Path, b_path: Path, labels: tuple[str, str] | None = None) -> str:
    """The comparison as Markdown; ``labels`` name A and B in its title (their paths by default)."""
    a, b = read_study(a_path), read_study(b_path)
    label_a, label_b = labels or (str(a_path), str(b_path))
    level, deltas = run_deltas(a, b)
    provenance = provenance_changes(a["provenance"], b["provenance"])
    lines = [f"# {label_a} (A) against {label_b} (B)", "", *claims_section(a, b)]
    lines += ["", f"## Final metrics per {level}", "", markdown_table(deltas, decimals=3), ""]
    lines += ["## Settings and provenance that differ", ""]
    if provenance is None:
        lines += ["Not compared: provenance.json is missing from " + ("A" if a["provenance"] is None else "B") + "."]
    else:
        lines += [markdown_table(provenance) if len(provenance) else "None."]
    return "\n".join(lines) + "\n"


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("a", type=Path, help="results folder or published run A")
    parser.add_argument("b", type=Path, help="results folder or published run B")
    parser.add_argument("--labels", nargs=2, metavar=("A", "B"), help="names of A and B in the title")
    parser.add_argument("--out", type=Path, help="write the Markdown here instead of printing it")
    args = parser.parse_args(argv)
    text = diff_markdown(args.a, args.b, args.labels)
    if args.out:
        args.out.write_text(text)
    else:
        print(text, end="")


if __name__ == "__main__":
    main()
