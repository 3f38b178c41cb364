"""The report's first screen: the ladder of claims with their verdicts and the run in one sentence."""

from __future__ import annotations

import html

import pandas as pd

from study.reporting.cells import (
    clauses,
    counted_range,
    labelled_range,
    markdown_html,
    number_ranges,
    plural,
)
from study.specs import OPTIMIZER_NAMES


def protocol_note(protocol: dict | None) -> str:
    """Whether the claims were judged under a protocol fixed before the runs (provenance's 'protocol')."""
    if not protocol or protocol.get("sha256") is None:
        return (
            "**No protocol was fixed before these runs**, so every verdict below is exploratory: it was not "
            "set down before the runs were seen. The workflow's protocol rule writes `protocol.json` before the "
            "first run."
        )
    fixed = f"the study's `protocol.json` (sha256 `{protocol['sha256'][:12]}`, written {protocol['written_at']})"
    if protocol["changed"]:
        return (
            f"**The protocol changed after the first run.** The claims, thresholds, design or recipes the config "
            f"states now (sha256 `{protocol['current_sha256'][:12]}`) differ from those fixed in {fixed}. Every "
            "verdict below is exploratory: its rules were set after runs had been seen."
        )
    if protocol["runs_under_other"]:
        return (
            f"**{protocol['runs_under_other']} runs were not trained under the protocol fixed in {fixed}** (they "
            "were trained before it was written, or under another one), so every verdict below is exploratory."
        )
    return f"Protocol fixed before the runs in {fixed}; every run was trained under it: the verdicts are confirmatory."


# Verdicts a claim gets without a test: shown apart from the tested ones, never counted among them.
NOT_TESTABLE = "not testable"  # its measure cannot reach its threshold at this profile; outside the Holm family


NOT_RUN = "not run"  # a variant it names was not trained in this study


APART = {NOT_TESTABLE: "not testable at this profile", NOT_RUN: "not run in this study"}


LECTURE_FAMILY = "lecture"


def family_of(claims: pd.DataFrame) -> pd.Series:
    """Each claim's family; the lecture's where the table names none."""
    if "family" not in claims:
        return pd.Series(LECTURE_FAMILY, index=claims.index)
    return claims["family"].fillna(LECTURE_FAMILY).astype(str)


def family_name(family: str) -> str:
    """'the lecture's story' for the lecture's claims, 'family he2015' for a family a user's config adds."""
    return "the lecture's story" if family == LECTURE_FAMILY else f"family {family}"


def families(claims: pd.DataFrame) -> list[tuple[str, pd.DataFrame]]:
    """The claims family by family, in the order the config first names each."""
    return list(claims.groupby(family_of(claims), sort=False))


def apart_text(claims: pd.DataFrame) -> str:
    """'1 not testable at this profile, 8 not run in this study'; '' when every claim was tested."""
    counts = claims["verdict"].value_counts()
    return ", ".join(f"{counts[verdict]} {words}" for verdict, words in APART.items() if verdict in counts)


def story_sentence(family: str, claims: pd.DataFrame) -> str:
    """Whether one family of claims reproduces: only when every one of its claims is confirmed. Claims not
    testable or not run are not counted among those tested, and are named apart."""
    name = family_name(family)
    subject = "the story" if family == LECTURE_FAMILY else "it"
    tested = claims[~claims["verdict"].isin(APART)]
    confirmed = int((tested["verdict"] == "confirmed").sum())
    apart = apart_text(claims)
    shown_apart = f" Shown apart: {apart}." if apart else ""
    if confirmed == len(claims):
        every = {1: "The one claim", 2: "Both claims"}.get(confirmed, f"All {confirmed} claims")
        verb = "is" if confirmed == 1 else "are"
        return f"{every} of {name} {verb} confirmed: {subject} reproduces here."
    if tested.empty:
        none = "The one claim of {} was not" if len(claims) == 1 else f"None of the {len(claims)} claims of {{}} was"
        return f"{none.format(name)} tested here.{shown_apart}"
    title = name[0].upper() + name[1:]
    if confirmed == len(tested):
        every = "the one claim tested is" if confirmed == 1 else f"all {confirmed} claims tested are"
        return (
            f"{title}: {every} confirmed, but not every claim could be tested, so this run reproduces {subject} "
            f"only in part.{shown_apart}"
        )
    others = tested.loc[tested["verdict"] != "confirmed", "verdict"].value_counts()
    rest = ", ".join(f"{count} {verdict}" for verdict, count in others.items())
    verb = "is" if confirmed == 1 else "are"
    return (
        f"{title}: {confirmed} of the {plural(len(tested), 'claim')} tested {verb} confirmed ({rest}), so this "
        f"run does not reproduce {subject} in full; each claim's details below say what it would take.{shown_apart}"
    )


def story_sentences(claims: pd.DataFrame) -> list[str]:
    """One story sentence per family of claims, in the config's order."""
    return [story_sentence(family, part) for family, part in families(claims)]


# The first screen and the claims' evidence, as HTML the notebook displays.
VERDICT_MARKS = {"confirmed": "✓", "refuted": "✗", "undetermined": "?", NOT_TESTABLE: "⊘", NOT_RUN: "○"}


# Okabe-Ito blue, vermillion and reddish purple; greys for the undetermined and the claims not run.
REPORT_CSS = """<style>
.study-first { display: flex; gap: 1.5em; align-items: flex-start; }
.study-first .ladders { flex: 1 1 45%; }
.study-first ol { margin: 0; padding-left: 1.6em; }
.study-first li { margin: 0.15em 0; }
.study-first figure { flex: 1 1 55%; margin: 0; }
.study-first .family { font-weight: bold; margin: 0.6em 0 0.2em 0; }
.study-first .reason { color: #333; font-size: smaller; }
.verdict { font-weight: bold; white-space: nowrap; }
.verdict.confirmed { color: #0072B2; } .verdict.refuted { color: #D55E00; } .verdict.undetermined { color: #555; }
.verdict.not-testable { color: #CC79A7; } .verdict.not-run { color: #888; font-weight: normal; }
details { margin: 0.4em 0; } details > summary { cursor: pointer; }
details > div, details > pre { margin: 0.4em 0 0.8em 1.4em; }
figcaption { font-style: italic; color: #333; }
</style>"""


def run_sentence(summary: pd.DataFrame, provenance: dict) -> str:
    """What ran here beside what the lecture ran, in one sentence each (HTML); a value missing for every
    variant leaves its clause out."""
    seeds = sorted({int(float(s)) for text in summary["seeds"] for s in str(text).split()})
    precisions = sorted({t["precision"] for t in provenance["training"]})
    names = summary["optimizer"] if "optimizer" in summary else pd.Series(["adam"])
    optimizers = "/".join(OPTIMIZER_NAMES.get(name, str(name)) for name in dict.fromkeys(names.fillna("adam")))
    images = counted_range(summary["train_images"], "training image", ",.0f")
    seed_list = f"seed {seeds[0]}" if len(seeds) == 1 else f"seeds {seeds[0]}–{seeds[-1]}" if seeds else ""
    ours = "; ".join(
        [
            clauses(", ".join(dict.fromkeys(summary["dataset"])), images and f"{images} a dataset"),
            clauses(
                plural(len(summary), "variant"),
                counted_range(summary["n_seeds"], "seed") + (f" each ({seed_list})" if seed_list else ""),
            ),
            clauses(
                labelled_range("width", summary["width"]),
                labelled_range(f"{optimizers} lr", summary["learning_rate"]),
                labelled_range("batch", summary["batch_size"]),
                counted_range(summary["epochs"], "epoch"),
            ),
            f"{', '.join(precisions)} on {'; '.join(provenance['devices'])}",
        ]
    )
    lecture = clauses(
        "one run of each model",
        labelled_range("width", summary["lecture_width"]),
        labelled_range("Adam lr", summary["lecture_learning_rate"]),
        labelled_range("batch", summary["lecture_batch_size"]),
        "the whole training set",
        counted_range(summary["lecture_epochs"], "epoch"),
    )
    return (
        f"<p><b>What ran here:</b> {html.escape(ours)}.<br><b>What the lecture ran:</b> {html.escape(lecture)}; "
        "its hardware is not stated.</p>"
    )


def verdict_html(verdict: str, protocol: str = "") -> str:
    """The verdict as a symbol and a word; a tested one marked '(exploratory)' when its protocol was."""
    exploratory = protocol == "exploratory" and verdict not in APART
    label = f"{VERDICT_MARKS.get(verdict, '')} {verdict}" + (" (exploratory)" if exploratory else "")
    return f'<span class="verdict {html.escape(verdict.replace(" ", "-"))}">{html.escape(label)}</span>'


def ladder_item(number: int, claim: dict) -> str:
    """One claim of the ladder, numbered as in the forest plot and the details; with its reason when it was
    not tested."""
    reason = claim.get("reason")
    why = (
        f' <span class="reason">({html.escape(reason)})</span>'
        if claim["verdict"] in APART and isinstance(reason, str) and reason
        else ""
    )
    return (
        f'<li value="{number}">{verdict_html(claim["verdict"], claim.get("protocol", ""))} '
        f"{html.escape(claim['claim'])}{why}</li>"
    )


def ladder_html(claims: pd.DataFrame) -> str:
    """The ladder, family by family, one numbered line per claim in the config's order: its verdict as a symbol
    and a word, then the claim (its evidence is in the forest plot beside it and under its <details>). The
    claims not testable at this profile and those not run are listed apart, folded, with their reasons."""
    items = list(numbered(claims))
    family = family_of(claims).tolist()
    several = len(set(family)) > 1
    blocks = []
    for name in dict.fromkeys(family):
        mine = [(i, r) for i, r in items if family[i - 1] == name]
        title = family_name(name)
        if several:
            blocks.append(f'<p class="family">{html.escape(title[0].upper() + title[1:])}</p>')
        tested = [ladder_item(i, r) for i, r in mine if r["verdict"] not in APART]
        if tested:
            blocks.append('<ol class="ladder">' + "".join(tested) + "</ol>")
        for verdict, words in APART.items():
            apart = [ladder_item(i, r) for i, r in mine if r["verdict"] == verdict]
            if apart:
                blocks.append(
                    f"<details><summary>{len(apart)} {html.escape(words)}</summary>"
                    f'<ol class="apart">{"".join(apart)}</ol></details>'
                )
    return '<div class="ladders">' + "".join(blocks) + "</div>"


def forest_alt(claims: pd.DataFrame) -> str:
    """The forest plot in words, for a reader who cannot see it: the claims it plots, and those it leaves out
    as untested."""
    shown = [(i, r) for i, r in numbered(claims) if r["verdict"] not in APART]
    counts = ", ".join(
        f"{n} {verdict}" for verdict, n in pd.Series([r["verdict"] for _, r in shown]).value_counts().items()
    )
    lines = [f"{i}. {r['claim']}: {r['evidence'] or 'no estimate'}, {r['verdict']}" for i, r in shown]
    text = f"Forest plot of the {plural(len(shown), 'tested claim')}" + (f" ({counts}). " if shown else ".")
    text += "; ".join(lines) + ("." if lines else "")
    left_out = untested_numbers(claims)
    return text + (f" Not plotted, without an estimate: claims {'; '.join(left_out)}." if left_out else "")


def untested_numbers(claims: pd.DataFrame) -> list[str]:
    """'3 (not testable)', '5–12 (not run)': the numbers of the claims without a test, by verdict."""
    return [
        f"{number_ranges([i for i, r in numbered(claims) if r['verdict'] == verdict])} ({verdict})"
        for verdict in APART
        if (claims["verdict"] == verdict).any()
    ]


def numbered(claims: pd.DataFrame):
    """The claims as records numbered from 1 in the config's order: the numbers of the ladder, the forest plot
    and the details."""
    return enumerate(claims.fillna({"evidence": ""}).to_dict("records"), start=1)


def first_screen(summary: pd.DataFrame, claims: pd.DataFrame, provenance: dict, forest_html: str) -> str:
    """What a reader sees first: what ran beside what the lecture ran, whether the protocol held, each family's
    verdict, and the ladder of claims beside their forest plot."""
    return (
        REPORT_CSS
        + run_sentence(summary, provenance)
        + markdown_html(protocol_note(provenance.get("protocol")))
        + "".join(f"<p><b>{html.escape(sentence)}</b></p>" for sentence in story_sentences(claims))
        + f'<div class="study-first">{ladder_html(claims)}{forest_html}</div>'
    )
