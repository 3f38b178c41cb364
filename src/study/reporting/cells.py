"""Cell and text formatting shared by the report's views and prose: numbers, ranges, HTML pieces."""

from __future__ import annotations

import html
import math

import mistune
import numpy as np
import pandas as pd
import yaml


def mean_pm_std(mean: float, std: float) -> str:
    if math.isnan(mean):
        return ""
    return f"{mean:.3f}" if math.isnan(std) else f"{mean:.3f} ± {std:.3f}"


def header(name: str) -> str:
    """A column name as words ('lecture_params' -> 'lecture params'); environment variables keep their names."""
    return name if name.isupper() else name.replace("_", " ")


def cell_text(value, decimals: int = 3) -> str:
    """A value as a reader writes it: '' for a missing one, 'yes'/'no' for a boolean, counts with thousands
    separators, other numbers with ``decimals`` decimals."""
    if value is None or (not isinstance(value, (list, dict)) and pd.isna(value)):
        return ""
    if isinstance(value, (bool, np.bool_)):
        return "yes" if value else "no"
    if isinstance(value, (int, np.integer)):
        return f"{value:,}"
    if isinstance(value, (float, np.floating)):
        return f"{value:,.{decimals}f}"
    return str(value)


def is_numeric(column: pd.Series) -> bool:
    return pd.api.types.is_numeric_dtype(column) and not pd.api.types.is_bool_dtype(column)


def styled(table: pd.DataFrame):
    """A table as the report shows it: headers as words, each value as a reader writes it (cell_text), numbers
    right-aligned and text left-aligned, each header aligned with its column, no index."""
    table = table.rename(columns=header)
    styler = table.style.format(cell_text).hide(axis="index")
    alignment = {
        column: [{"selector": "th, td", "props": [("text-align", "right" if is_numeric(table[column]) else "left")]}]
        for column in table.columns
    }
    return styler.set_table_styles(alignment, overwrite=False)


def step_text(step) -> str:
    """The step a run left the plateau at, or 'never'."""
    return "never" if pd.isna(step) else f"{int(step):,}"


def plural(count, noun: str) -> str:
    """'1 epoch', '2 epochs', '10,000 images'."""
    return f"{count:,} {noun}" + ("" if count == 1 else "s")


def clauses(*parts: str) -> str:
    """The parts that say something, joined by commas: a missing value leaves its clause out."""
    return ", ".join(part for part in parts if part)


def fraction(numerator, denominator) -> str:
    numerator, denominator = int(numerator), int(denominator)
    return f"{numerator}/{denominator}" + (f" ({numerator / denominator:.0%})" if denominator else "")


def interval_text(mean: float, low: float, high: float, digits: int, sign: str = "") -> str:
    """'0.412 [0.380, 0.441]'; the mean alone when there is no interval, '' when there is no mean."""
    if pd.isna(mean):
        return ""
    text = f"{mean:{sign}.{digits}f}"
    return text if pd.isna(low) else f"{text} [{low:{sign}.{digits}f}, {high:{sign}.{digits}f}]"


def escape(text) -> str:
    return html.escape(cell_text(text))


def value_range(values, fmt: str = "g") -> str:
    """'0.25' or '0.25-1' over the distinct values, '' when there are none."""
    values = sorted({float(v) for v in values if not pd.isna(v)})
    if not values:
        return ""
    low, high = (f"{v:{fmt}}" for v in (values[0], values[-1]))
    return low if low == high else f"{low}–{high}"


def counted_range(values, noun: str, fmt: str = "g") -> str:
    """'1 epoch', '2 epochs', '2–3 epochs' over the distinct values; '' when there are none."""
    text = value_range(values, fmt)
    return f"{text} {noun}" + ("" if text in ("", "1") else "s") if text else ""


def labelled_range(label: str, values) -> str:
    """'width 0.25-1'; '' when no value is given."""
    text = value_range(values)
    return f"{label} {text}" if text else ""


def number_ranges(numbers: list[int]) -> str:
    """'3, 5–12': runs of consecutive numbers as ranges."""
    runs: list[list[int]] = []
    for number in sorted(numbers):
        if runs and number == runs[-1][-1] + 1:
            runs[-1].append(number)
        else:
            runs.append([number])
    return ", ".join(str(run[0]) if len(run) == 1 else f"{run[0]}–{run[-1]}" for run in runs)


def markdown_html(text: str) -> str:
    """Markdown (the notes' **bold**, `code`, lists) as HTML, for notes placed inside HTML blocks."""
    return mistune.html(text)


def folded(title: str, body: str) -> str:
    """``body`` (HTML) under a <details> a reader opens."""
    return f"<details><summary>{html.escape(title)}</summary><div>{body}</div></details>"


def config_yaml(config: dict) -> str:
    """The config as YAML, lists of numbers on one line, folded under a <details>."""
    text = yaml.safe_dump(config, sort_keys=False, default_flow_style=None, width=110, allow_unicode=True)
    return (
        "<details><summary>The configuration this run resolved (YAML, every layer merged)</summary>"
        f"<pre>{html.escape(text)}</pre></details>"
    )


def markdown_table(table: pd.DataFrame, decimals: int | None = None) -> str:
    """A table as Markdown; floats with ``decimals`` when given, missing values empty."""

    def cell(value) -> str:
        if pd.isna(value):
            return ""
        if decimals is not None and isinstance(value, float):
            return f"{value:.{decimals}f}"
        return str(value).replace("|", "\\|")

    lines = ["| " + " | ".join(map(str, table.columns)) + " |", "|" + "---|" * len(table.columns)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in table.itertuples(index=False)]
    return "\n".join(lines)
