"""The report's figures: one colour per variant, the same in every figure."""

from __future__ import annotations

import base64
import html
import io
import os
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns

from study.analysis.outcomes import chance_accuracy, chance_label, chance_loss, plateau_line
from study.reporting.table_views import cell_label

# train_* and val_* are both measured in inference mode at each epoch's end (history.csv)
CURVE_METRICS = {"train_accuracy": "train accuracy", "val_accuracy": "validation accuracy"}


def keep(figure: plt.Figure, directory: str | os.PathLike, name: str) -> plt.Figure:
    """Save a report figure as DIRECTORY/NAME.png too, for Snakemake's report bundle."""
    Path(directory).mkdir(parents=True, exist_ok=True)
    figure.savefig(Path(directory) / f"{name}.png", dpi=96, bbox_inches="tight")
    return figure


def variant_palette(variants: list[str]) -> dict[str, tuple]:
    """One colour per variant, the same in every figure of the report, from seaborn's colour-blind-safe
    palette (10 colours; beyond 10 variants they repeat)."""
    return dict(zip(variants, sns.color_palette("colorblind", len(variants)), strict=True))


def figure_html(figure: plt.Figure, alt: str, caption: str) -> str:
    """A figure as the report embeds it: a PNG in the page itself, with its alt text and a one-line caption
    saying what to look for. Closes the figure."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=96, bbox_inches="tight")
    plt.close(figure)
    data = base64.b64encode(buffer.getvalue()).decode()
    return (
        f'<figure><img src="data:image/png;base64,{data}" alt="{html.escape(alt, quote=True)}" '
        f'style="max-width: 100%"><figcaption>{html.escape(caption)}</figcaption></figure>'
    )


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
        hue_order=[variant for variant in palette if variant in set(epochs["variant"])],
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


def plot_final_accuracy(epochs: pd.DataFrame, classes: dict[str, int], palette: dict) -> plt.Figure:
    """Final train and validation accuracy per variant: seeds as dots, mean with a 95% CI, and a grey tick at
    chance, 1/classes of the variant's dataset (``classes``: variant -> class count)."""
    last = epochs.loc[epochs.groupby(["variant", "seed"])["epoch"].idxmax()]
    long = last.melt(id_vars=["variant", "seed"], value_vars=["train_accuracy", "val_accuracy"], var_name="split")
    long["split"] = long["split"].map({"train_accuracy": "train", "val_accuracy": "validation"})
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
        ticks = [chance_accuracy(classes[variant]) for variant in palette]
        ax.scatter(ticks, list(palette), marker="|", s=300, color="grey", zorder=0)
        ax.set_title(f"final {split} accuracy (grey tick: chance)")
        ax.set_xlabel("accuracy")
        ax.set_ylabel("")
        ax.set_xlim(0, 1)
    fig.tight_layout()
    return fig


def _last_epoch(diagnostics: pd.DataFrame) -> pd.DataFrame:
    last = diagnostics.groupby(["variant", "seed"])["epoch"].transform("max")
    return diagnostics[diagnostics["epoch"] == last]


def _geometric_mean_over_seeds(table: pd.DataFrame) -> pd.DataFrame:
    table = table.assign(log=np.log10(table["value"].clip(lower=1e-30)))
    out = table.groupby(["variant", "depth", "layer"], as_index=False)["log"].mean()
    return out.assign(value=10 ** out["log"])


def plot_gradient_by_depth(diagnostics: pd.DataFrame, palette: dict) -> plt.Figure:
    """Kernel gradient norm against layer depth, at initialisation and after the last epoch."""
    grads = diagnostics[diagnostics["statistic"] == "gradient_norm"]
    panels = {"at initialisation (epoch 0)": grads[grads["epoch"] == 0], "after the last epoch": _last_epoch(grads)}
    fig, axes = plt.subplots(1, 2, figsize=(13, 4.6), sharey=True)
    for ax, (title, part) in zip(axes, panels.items(), strict=True):
        sns.lineplot(
            data=_geometric_mean_over_seeds(part),
            x="depth",
            y="value",
            hue="variant",
            palette=palette,
            marker="o",
            ax=ax,
            legend=ax is axes[-1],
        )
        ax.set_yscale("log")
        ax.set_title(f"kernel gradient L2 norm, {title}")
        ax.set_xlabel("layer index (1 = first conv, last = softmax Dense)")
        ax.set_ylabel("gradient norm (log scale)")
    sns.move_legend(axes[-1], "upper left", bbox_to_anchor=(1.02, 1), title="variant")
    fig.tight_layout()
    return fig


def plot_unit_health(diagnostics: pd.DataFrame, palette: dict) -> plt.Figure:
    """Saturated sigmoid units and dead ReLU units by depth, after the last epoch (mean over seeds)."""
    last = _last_epoch(diagnostics)
    panels = {"saturated_fraction": "sigmoid and tanh nets: saturated units", "dead_fraction": "ReLU nets: dead units"}
    fig, axes = plt.subplots(1, 2, figsize=(13, 4.2), sharey=True)
    for ax, (statistic, title) in zip(axes, panels.items(), strict=True):
        part = last[last["statistic"] == statistic].groupby(["variant", "depth"], as_index=False)["value"].mean()
        if part.empty:
            ax.text(0.5, 0.5, "no such layers in this run", ha="center", va="center", transform=ax.transAxes)
        else:
            sns.lineplot(data=part, x="depth", y="value", hue="variant", palette=palette, marker="o", ax=ax)
            sns.move_legend(ax, "upper left", bbox_to_anchor=(0, -0.18), ncol=2, title=None, fontsize="small")
        ax.set_title(title)
        ax.set_xlabel("layer index")
        ax.set_ylabel("fraction of units")
        ax.set_ylim(0, 1)
    fig.tight_layout()
    return fig


def plot_fixes(steps: pd.DataFrame, fixes: pd.DataFrame, classes: int, config: dict, palette: dict) -> plt.Figure:
    """The fix ranking's variants: training loss every few steps (mean over seeds, band: range), their dataset's
    chance loss ln(classes), and the plateau line a run must cross and stay below."""
    variants = fixes["variant"].tolist()
    part = steps[steps["variant"].isin(variants)]
    fig, ax = plt.subplots(figsize=(10, 4.6))
    sns.lineplot(
        data=part, x="step", y="loss", hue="variant", hue_order=variants, palette=palette, errorbar=("pi", 100), ax=ax
    )
    line = plateau_line(classes, config["outcomes"])
    ax.axhline(chance_loss(classes), color="grey", linestyle=":", linewidth=1)
    ax.text(
        ax.get_xlim()[0],
        chance_loss(classes),
        f" {chance_label(classes)}",
        va="bottom",
        fontsize="small",
    )
    ax.axhline(line, color="black", linestyle="--", linewidth=1)
    ax.text(ax.get_xlim()[0], line, " plateau line (outcomes)", va="top", fontsize="small")
    ax.set_ylabel("training loss (mean over each window of steps)")
    ax.set_title(f"Which fix works best: leaving the ln {classes} plateau, step by step")
    sns.move_legend(ax, "upper left", bbox_to_anchor=(1.02, 1), title="variant")
    fig.tight_layout()
    return fig


def plot_sensitivity(rates: pd.DataFrame, keys: list[str]) -> plt.Figure:
    """The sensitivity map: each variant's rate of learning in each cell (the share of seeds that learned,
    written k/n), with this profile's own cell and the lecture's marked."""
    rates = rates.assign(label=[cell_label(row, keys) for row in rates.to_dict("records")])
    labels = list(dict.fromkeys(rates["label"]))
    variants = list(dict.fromkeys(rates["variant"]))
    grid = rates.pivot(index="variant", columns="label", values="rate").reindex(index=variants, columns=labels)
    notes = (
        rates.assign(
            note=[
                f"{r['n_learned']}/{r['n_seeds']}"
                + ("\nprofile" if r["profile_cell"] else "")
                + ("\nlecture" if r["lecture_cell"] else "")
                for r in rates.to_dict("records")
            ]
        )
        .pivot(index="variant", columns="label", values="note")
        .reindex(index=variants, columns=labels)
    )
    fig, ax = plt.subplots(figsize=(1.6 * len(labels) + 4, 0.7 * len(variants) + 2))
    sns.heatmap(
        grid.astype(float),
        annot=notes,
        fmt="",
        cmap="cividis",
        vmin=0,
        vmax=1,
        ax=ax,
        cbar_kws={"label": "share of seeds that learned"},
    )
    ax.set_xlabel("cell of the grid")
    ax.set_ylabel("")
    ax.set_title("Where the story holds: the rate of learning in each cell")
    fig.tight_layout()
    return fig


def plot_loss_by_step(steps: pd.DataFrame, classes: dict[str, int], config: dict, palette: dict) -> plt.Figure:
    """One panel per variant: each seed's training loss every few steps (thin) and their mean (thick), against
    the dataset's chance loss ln(classes) and the plateau line a run must cross and stay below."""
    variants = [variant for variant in palette if variant in set(steps["variant"])]
    columns = min(5, len(variants))
    rows = -(-len(variants) // columns)
    fig, axes = plt.subplots(rows, columns, figsize=(3.1 * columns, 2.5 * rows), sharey=True, squeeze=False)
    for ax, variant in zip(axes.flat, variants, strict=False):
        part = steps[steps["variant"] == variant]
        for _, seed in part.groupby("seed"):
            ax.plot(seed["step"], seed["loss"], color=palette[variant], linewidth=0.7, alpha=0.45)
        mean = part.groupby("step")["loss"].mean()
        ax.plot(mean.index, mean.values, color=palette[variant], linewidth=2)
        chance = chance_loss(classes[variant])
        ax.axhline(chance, color="grey", linestyle=":", linewidth=1)
        ax.axhline(plateau_line(classes[variant], config["outcomes"]), color="black", linestyle="--", linewidth=0.8)
        ax.text(
            1,
            chance,
            chance_label(classes[variant]),
            transform=ax.get_yaxis_transform(),
            ha="right",
            va="bottom",
            fontsize="x-small",
        )
        ax.set_title(variant, fontsize="small")
        ax.set_xlabel("step")
    for ax in axes.flat[len(variants) :]:
        ax.set_visible(False)
    for ax in axes[:, 0]:
        ax.set_ylabel("training loss")
    fig.tight_layout()
    return fig
