"""Tables and figures of the report notebook, and its offline HTML export."""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

import matplotlib.pyplot as plt
import nbformat
import pandas as pd
import seaborn as sns
from nbconvert import HTMLExporter

TEMPLATES = Path(__file__).parent / "templates"
CURVE_METRICS = {"accuracy": "train accuracy", "val_accuracy": "validation accuracy", "loss": "train loss"}


def variant_palette(variants: list[str]) -> dict[str, tuple]:
    """One colour per variant, the same in every figure of the report."""
    return dict(zip(variants, sns.color_palette("tab20", len(variants)), strict=False))


def mean_pm_std(mean: float, std: float) -> str:
    if math.isnan(mean):
        return ""
    return f"{mean:.4f}" if math.isnan(std) else f"{mean:.4f} ± {std:.4f}"


def lecture_table(summary: pd.DataFrame) -> pd.DataFrame:
    """The lecture's numbers beside the reproduction's mean ± std and 95% CI across seeds."""
    rows = []
    for _, r in summary.iterrows():
        rows.append(
            {
                "variant": r["variant"],
                "epochs": int(r["epochs"]),
                "seeds": int(r["n_seeds"]),
                "lecture says": r["lecture_says"] if isinstance(r["lecture_says"], str) else "",
                "lecture train acc": r["lecture_train_accuracy"],
                "train acc (mean ± std)": mean_pm_std(r["final_train_accuracy_mean"], r["final_train_accuracy_std"]),
                "lecture val acc": r["lecture_val_accuracy"],
                "val acc (mean ± std)": mean_pm_std(r["final_val_accuracy_mean"], r["final_val_accuracy_std"]),
                "val acc 95% CI ±": r["final_val_accuracy_ci95"],
                "best val acc (mean)": r["best_val_accuracy_mean"],
                "params": int(r["params"]),
                "s / epoch": r["seconds_per_epoch"],
            }
        )
    return pd.DataFrame(rows)


def plot_learning_curves(epochs: pd.DataFrame, palette: dict) -> plt.Figure:
    """Per metric, each variant's mean over seeds by epoch, with a ±1 std band."""
    long = epochs.melt(id_vars=["variant", "seed", "epoch"], value_vars=list(CURVE_METRICS), var_name="metric")
    long["metric"] = long["metric"].map(CURVE_METRICS)
    grid = sns.relplot(
        data=long,
        x="epoch",
        y="value",
        hue="variant",
        col="metric",
        kind="line",
        errorbar="sd",
        palette=palette,
        facet_kws={"sharey": False},
        height=3.6,
        aspect=1.15,
        marker="o",
        markersize=3,
    )
    grid.set_titles("{col_name}")
    grid.set_axis_labels("epoch", "")
    for ax, label in zip(grid.axes.flat, CURVE_METRICS.values(), strict=True):
        ax.set_ylabel(label)
    return grid.figure


def plot_final_accuracy(epochs: pd.DataFrame, palette: dict) -> plt.Figure:
    """Final train and validation accuracy per variant: seeds as dots, mean with a 95% CI."""
    last = epochs.loc[epochs.groupby(["variant", "seed"])["epoch"].idxmax()]
    long = last.melt(id_vars=["variant", "seed"], value_vars=["accuracy", "val_accuracy"], var_name="split")
    long["split"] = long["split"].map({"accuracy": "train", "val_accuracy": "validation"})
    fig, axes = plt.subplots(1, 2, figsize=(12, 0.45 * len(palette) + 1.5), sharey=True)
    for ax, (split, part) in zip(axes, long.groupby("split"), strict=True):
        sns.pointplot(
            data=part,
            y="variant",
            x="value",
            hue="variant",
            palette=palette,
            errorbar=("ci", 95),
            linestyle="none",
            ax=ax,
            order=list(palette),
            legend=False,
        )
        sns.stripplot(data=part, y="variant", x="value", color="black", size=3, ax=ax, order=list(palette))
        ax.axvline(0.1, color="grey", linestyle=":", linewidth=1)
        ax.set_title(f"final {split} accuracy (dotted: chance)")
        ax.set_xlabel("accuracy")
        ax.set_ylabel("")
        ax.set_xlim(0, 1)
    fig.tight_layout()
    return fig


def stats_table(stats_jsons: list[str | os.PathLike]) -> pd.DataFrame:
    rows = []
    for path in stats_jsons:
        s = json.loads(Path(path).read_text())
        for channel, (mean, std) in enumerate(zip(s["mean"], s["std"], strict=True)):
            rows.append(
                {
                    "dataset": s["dataset"],
                    "channel": channel,
                    "mean (0-255)": mean,
                    "std (0-255)": std,
                    "training images": s["images"],
                }
            )
    return pd.DataFrame(rows)


def export_html(notebook: str | os.PathLike, html: str | os.PathLike) -> None:
    """Write the executed notebook as self-contained HTML: no code, images embedded, nothing fetched."""
    exporter = HTMLExporter(
        template_name="offline",
        extra_template_basedirs=[str(TEMPLATES)],
        exclude_input=True,
        exclude_input_prompt=True,
        exclude_output_prompt=True,
        embed_images=True,
    )
    body, _ = exporter.from_notebook_node(nbformat.read(notebook, as_version=4))
    Path(html).write_text(body, encoding="utf-8")
