"""The report's forest plot: every claim's estimate with its interval against its own null, marked by its verdict."""

from __future__ import annotations

import matplotlib.pyplot as plt
import pandas as pd

from study.reporting.first_screen import APART, VERDICT_MARKS, numbered, untested_numbers

VERDICT_COLOURS = {"confirmed": "#0072B2", "refuted": "#D55E00", "undetermined": "#777777"}  # Okabe-Ito


VERDICT_MARKERS = {"confirmed": "o", "refuted": "X", "undetermined": "D"}


def plot_claims_forest(claims: pd.DataFrame, design: dict) -> plt.Figure:
    """Every tested claim's estimate with its interval at the level Holm tests it at, numbered as in the ladder,
    against what it is tested against (its null: a rate claim's threshold, a contrast's 0, a paired claim's
    least difference); coloured by verdict.
    Claims not testable at this profile or not run have no estimate: they get no row, and the x label says
    which they are."""
    shown = [(number, claim) for number, claim in numbered(claims) if claim["verdict"] not in APART]
    fig, ax = plt.subplots(figsize=(6.6, 0.34 * max(len(shown), 1) + 1.3), layout="constrained")
    if not shown:
        ax.text(0, 0, "no claim was tested in this study", va="center", ha="center", color="grey")
    for row, (_, claim) in enumerate(shown):
        reference = claim.get("null")
        if pd.isna(reference):  # a claims table written before the null was recorded
            reference = design["rate_threshold"] if claim["kind"] == "rate" else 0.0
        ax.plot([reference, reference], [row - 0.35, row + 0.35], color="black", linewidth=1.2)
        verdict = claim["verdict"]
        if pd.isna(claim["estimate"]):
            ax.text(0, row, "no estimate", va="center", ha="center", fontsize="small", color="grey")
            continue
        colour = VERDICT_COLOURS.get(verdict, "grey")
        ax.plot([claim["ci_low"], claim["ci_high"]], [row, row], color=colour, linewidth=2.2)
        ax.plot(claim["estimate"], row, marker=VERDICT_MARKERS.get(verdict, "o"), color=colour, markersize=7)
    ax.set_yticks(range(len(shown)), [str(number) for number, _ in shown])
    ax.set_ylim(max(len(shown), 1) - 0.5, -0.5)
    ax.set_xlim(-1.05, 1.05)
    ax.axvline(0, color="lightgrey", linewidth=0.8, zorder=0)
    ax.set_ylabel("claim (numbered as in the list)")
    left_out = untested_numbers(claims)
    ax.set_xlabel(
        "rate (claims without a baseline) or difference from the baseline, interval at the claim's Holm level"
        + (f"\nnot plotted, without an estimate: {'; '.join(left_out)}" if left_out else "")
    )
    ax.set_title(
        f"Black tick: what the claim is tested against (a rate's threshold {design['rate_threshold']:g}, "
        "a difference's 0 or its stated least difference)",
        fontsize=9,
    )
    for verdict, colour in VERDICT_COLOURS.items():
        ax.plot([], [], marker=VERDICT_MARKERS[verdict], color=colour, label=f"{VERDICT_MARKS[verdict]} {verdict}")
    fig.legend(loc="outside lower center", ncol=3, frameon=False, fontsize="small")
    return fig
