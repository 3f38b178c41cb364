"""Each claim in detail, below the first screen: its facts, its evidence seed by seed, when it settled."""

from __future__ import annotations

import html

import pandas as pd

from study.analysis.statistics import POWER
from study.reporting.cells import (
    cell_text,
    escape,
    step_text,
    styled,
)
from study.reporting.claim_words import format_p
from study.reporting.first_screen import APART, LECTURE_FAMILY, numbered, verdict_html


def settled_text(row: dict) -> str:
    """'look 1 (5 seeds per variant)', 'not settled after 3 looks (20 seeds)'."""
    if pd.isna(row.get("settled_at_look")):
        looks = int(row.get("looks_taken") or 1)
        seeds = "" if pd.isna(row.get("n_seeds")) else f" ({int(row['n_seeds'])} seeds)"
        return f"not settled after {looks} look{'s' if looks > 1 else ''}{seeds}"
    return f"look {int(row['settled_at_look'])} ({int(row['settled_with_seeds'])} seeds per variant)"


def seed_table(claim: dict, runs: pd.DataFrame) -> pd.DataFrame:
    """Every run a claim was judged on: the claim's net and its baseline, seed by seed."""
    # one seed is read as a number (1.0), several as text ("1 2")
    seeds = [] if pd.isna(claim["seeds"]) else [int(float(seed)) for seed in str(claim["seeds"]).split()]
    nets = {claim["variant"]: "the claim's net"}
    if isinstance(claim.get("baseline"), str):
        nets[claim["baseline"]] = "baseline"
    part = pd.concat([runs[(runs["variant"] == net) & runs["seed"].isin(seeds)].sort_values("seed") for net in nets])
    return pd.DataFrame(
        {
            "net": part["variant"] + " (" + part["variant"].map(nets) + ")",
            "seed": part["seed"],
            "outcome": part["outcome"],
            "cause": part["cause"],
            "left the plateau at step": part["plateau_exit_step"].map(step_text),
            "final train loss": part["final_train_loss"],
            "final train acc": part["final_train_accuracy"],
            "final val acc": part["final_val_accuracy"],
        }
    )


def claim_details(claims: pd.DataFrame, runs: pd.DataFrame) -> str:
    """Each claim folded: its verdict in the summary line; its test, family, p, evidence, looks, power, a
    table of its runs seed by seed and the reason in one sentence inside."""
    blocks = []
    for i, r in numbered(claims):
        family = r.get("family") if isinstance(r.get("family"), str) else LECTURE_FAMILY
        holm = (
            f"left out of its Holm family: {r['verdict']}"
            if r["verdict"] in APART
            else f"Holm over {cell_text(r.get('family_tests'))} tests"
        )
        facts = [
            ("test", r["test"]),
            ("family", f"{family} ({holm})"),
            ("Holm-adjusted p", format_p(r["p_adjusted"]) or "not tested"),
            ("evidence (interval at the level Holm tests it at)", r["evidence"]),
            ("lecture reports", r["lecture"]),
        ]
        if "settled_at_look" in r:
            facts.append(("settled at", settled_text(r)))
        if not pd.isna(r.get("seeds_needed")):
            facts.append((f"seeds for {POWER:.0%} power", f"{int(r['seeds_needed'])} per variant, at {r['power_at']}"))
        rows = "".join(f"<li><b>{name}:</b> {escape(value)}</li>" for name, value in facts if cell_text(value))
        seeds = seed_table(r, runs)
        blocks.append(
            f"<details><summary>{i}. {verdict_html(r['verdict'], r.get('protocol', ''))} "
            f"{html.escape(r['claim'])}</summary><div><ul>{rows}</ul>"
            f"{styled(seeds).to_html() if len(seeds) else ''}<p><b>Why:</b> {escape(r['reason'])}</p></div></details>"
        )
    return "".join(blocks)
