"""The sensitivity map's cells: config ``sensitivity`` expanded into variants, the way snakemake.utils.Paramspace
expands a table of parameters.

Every combination of the grid's values is a cell; every variant of ``sensitivity.variants`` in every cell is
a variant of its own, named '<variant>.<key>-<value>_<key>-<value>' and trained like any other, so a cell is
a config entry, not new code.
"""

from __future__ import annotations

import itertools

import pandas as pd
from snakemake.utils import Paramspace

CELL_SEPARATOR = "."


def grid_table(sensitivity: dict) -> pd.DataFrame:
    """One row per cell: every combination of the grid's values, in the config's key order."""
    grid = sensitivity["grid"]
    return pd.DataFrame(list(itertools.product(*grid.values())), columns=list(grid), dtype=object)


def cells(sensitivity: dict) -> list[tuple[str, dict]]:
    """Each cell's name (Paramspace's instance pattern) and its values."""
    if not sensitivity["variants"] or not sensitivity["grid"]:
        return []
    table = grid_table(sensitivity)
    patterns = Paramspace(table, filename_params="*", param_sep="-").instance_patterns
    return list(zip(patterns, table.to_dict("records"), strict=True))


def cell_variant(variant: str, cell: str) -> str:
    return f"{variant}{CELL_SEPARATOR}{cell}"


def split_cell_variant(name: str) -> tuple[str, str | None]:
    """'cifar_12conv_relu.learning_rate-0.001_width-0.25' -> ('cifar_12conv_relu', 'learning_rate-...');
    a plain variant's cell is None."""
    variant, _, cell = name.partition(CELL_SEPARATOR)
    return variant, cell or None


def sensitivity_runs(config: dict) -> list[tuple[str, int]]:
    """Every (cell variant, seed) of the map."""
    sensitivity = config["sensitivity"]
    return [
        (cell_variant(variant, cell), seed)
        for variant in sensitivity["variants"]
        for cell, _ in cells(sensitivity)
        for seed in sensitivity["seeds"]
    ]


def variant_spec(config: dict, name: str) -> dict:
    """A variant's spec: the config's entry, or for a cell variant, its variant's entry with the cell's values."""
    variant, cell = split_cell_variant(name)
    spec = config["variants"][variant]
    if cell is None:
        return spec
    values = dict(cells(config["sensitivity"]))[cell]
    return spec | values
