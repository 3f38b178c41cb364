"""What a study is made of, in one place: where its files live, which runs it has, and which tables it writes.

The Snakefile, the plan, publish, the report notebook and the tests all read it here. It is plain Python
(no NumPy, pandas or Keras), so that Snakemake can parse the workflow with nothing but itself installed.

- **Paths.** Every file sits under the study's folder, config ``results_folder`` (default ``results``).
  A run's files are in ``RUN_DIR`` under it; a module's ``prefix:`` or a storage provider applies to all.
- **Run sets.** A run is (variant, seed). The study's looks, its stability check, the sensitivity map's
  cells and the lecture's cell are sets of runs, worked out here and nowhere else.
- **Tables.** ``TABLES`` registers every table: its name, the rule that writes it, the function that makes it
  and its caption in Snakemake's report. Adding a table is one entry here and its function.
"""

from __future__ import annotations

import importlib
import itertools
from dataclasses import dataclass

# A run's folder under the study's folder (results/runs/{variant}/seed_{seed} by default).
RUN_DIR = "runs/{variant}/seed_{seed}"
RUN_FILES = ("history.csv", "steps.csv", "diagnostics.csv", "metrics.json", "model.keras")
# What a run records that the tables are read from; never its model, checkpoints or logs.
RUN_FACTS = ("history.csv", "steps.csv", "diagnostics.csv", "metrics.json")
CELL_SEPARATOR = "."


@dataclass(frozen=True)
class Table:
    """One table of the study. ``make``: 'module:function', called with the facts its rule reads; ``caption``:
    its text in Snakemake's report (workflow/report/<caption>), None for a table kept out of it."""

    name: str
    rule: str
    make: str
    caption: str | None = None
    published: bool = False
    suffix: str = "csv"

    @property
    def file(self) -> str:
        return f"{self.name}.{self.suffix}"

    def maker(self):
        module, function = self.make.split(":")
        return getattr(importlib.import_module(module), function)


TABLES = (
    Table("summary", "aggregate", "study.analysis.tables:summary_table", "summary.rst", published=True),
    Table("claims", "aggregate", "study.reporting.worded_tables:claims_of_study", "claims.rst", published=True),
    Table("runs", "aggregate", "study.reporting.worded_tables:runs_of_study", "runs.rst", published=True),
    Table("epochs", "aggregate", "study.analysis.tables:epochs_table", "epochs.rst"),
    Table("steps", "aggregate", "study.analysis.tables:steps_table"),
    Table("diagnostics", "aggregate", "study.analysis.tables:diagnostics_table"),
    Table("fixes", "aggregate", "study.analysis.tables:fixes_of_study", "fixes.rst", published=True),
    Table("preflight", "aggregate", "study.analysis.tables:preflight_of_study", "preflight.rst"),
    Table(
        "preflight_calibration",
        "aggregate",
        "study.analysis.tables:calibration_of_study",
        "preflight_calibration.rst",
        published=True,
    ),
    Table(
        "stability", "aggregate", "study.reporting.worded_tables:stability_of_study", "stability.rst", published=True
    ),
    Table("looks", "aggregate", "study.analysis.tables:looks_of_study", published=True),
    Table("provenance", "aggregate", "study.analysis.tables:provenance_of_study", published=True, suffix="json"),
    Table("sensitivity", "sensitivity", "study.analysis.sensitivity:rates_of_map", "sensitivity.rst", published=True),
    Table(
        "lecture_cell",
        "lecture_cell",
        "study.reporting.worded_tables:lecture_cell_of_study",
        "lecture_cell.rst",
        published=True,
    ),
    Table("sensitivity_claims", "sensitivity", "study.reporting.worded_tables:claims_of_map", published=True),
    Table("params", "params", "study.analysis.params:params_of_study", "params.rst"),
)


def tables(rule: str | None = None) -> list[Table]:
    """The registered tables, or those one rule writes."""
    return [table for table in TABLES if rule is None or table.rule == rule]


def table_rules() -> list[str]:
    """The rules that write tables, in the registry's order."""
    return list(dict.fromkeys(table.rule for table in TABLES))


@dataclass(frozen=True)
class Layout:
    """The paths of one study, under its folder ``root``. Methods take wildcards' names as values, so that
    ``Layout(root).run_file("{variant}", "{seed}", "history.csv")`` is a rule's pattern."""

    root: str = "results"

    @classmethod
    def of(cls, config: dict) -> Layout:
        return cls(config["results_folder"])  # validated: the schema gives its default

    def path(self, *parts: object) -> str:
        """A path under the study's folder; relative to it when ``root`` is ''."""
        return "/".join([*([self.root] if self.root else []), *(str(part) for part in parts)])

    def download(self, dataset: str, filename: str) -> str:
        return self.path("downloads", dataset, filename)

    def array(self, dataset: str, array: str) -> str:
        return self.path("data", dataset, f"{array}.npy")

    def meta(self, dataset: str) -> str:
        return self.path("data", dataset, "meta.json")

    def stats(self, dataset: str) -> str:
        return self.path("stats", f"{dataset}.json")

    def preflight(self, variant: str) -> str:
        return self.path("preflight", f"{variant}.json")

    @property
    def protocol(self) -> str:
        return self.path("protocol.json")

    def run_dir(self, variant: str, seed: object) -> str:
        return self.path(RUN_DIR.format(variant=variant, seed=seed))

    def run_file(self, variant: str, seed: object, name: str) -> str:
        return f"{self.run_dir(variant, seed)}/{name}"

    def look(self, look: object) -> str:
        return self.path("looks", f"look_{look}.json")

    def table(self, name: str) -> str:
        return self.path("tables", next(table.file for table in TABLES if table.name == name))

    def report(self, suffix: str) -> str:
        return self.path(f"report.{suffix}")

    @property
    def figures(self) -> str:
        return self.path("figures")

    @property
    def tensorboard(self) -> str:
        """The runs' HParams sessions (study.tracking.hparams), beside their training curves in runs/."""
        return self.path("tensorboard")

    def log(self, rule: str, *name: object) -> str:
        return self.path("logs", rule, *name[:-1], f"{name[-1]}.log") if name else self.path("logs", f"{rule}.log")

    def benchmark(self, variant: str, seed: object) -> str:
        return self.path("benchmarks", "train", variant, f"seed_{seed}.tsv")


def run_folder(variant: str, seed: object) -> str:
    """A run's folder relative to the study's folder."""
    return RUN_DIR.format(variant=variant, seed=seed)


# The runs


def trained_variants(config: dict) -> list[str]:
    """The variants a study trains: ``variants_to_train``, or all of them."""
    return config["variants_to_train"] or list(config["variants"])


def planned_looks(config: dict) -> list[int]:
    """Seeds per variant at each look: ``design.looks``, or one look with every seed."""
    return config["design"]["looks"] or [len(config["seeds"])]


def first_look_runs(config: dict) -> list[tuple[str, int]]:
    """Every trained variant on the first look's seeds."""
    seeds = config["seeds"][: planned_looks(config)[0]]
    return [(variant, seed) for variant in trained_variants(config) for seed in seeds]


def next_look_runs(previous: dict, config: dict) -> list[tuple[str, int]]:
    """The runs of the look after ``previous`` (a look's record): its runs, and the new seeds of the variants
    it left open."""
    looks, seeds = planned_looks(config), config["seeds"]
    added = seeds[looks[previous["look"] - 1] : looks[previous["look"]]]
    return [tuple(run) for run in previous["runs"]] + [
        (variant, seed) for variant in previous["next_variants"] for seed in added
    ]


def stability_runs(config: dict) -> list[tuple[str, int]]:
    """The stability check's runs: its variants, or every trained one, on its own seeds."""
    variants = config["stability"]["variants"] or trained_variants(config)
    return [(variant, seed) for variant in variants for seed in config["stability"]["seeds"]]


def cells(sensitivity: dict) -> list[tuple[str, dict]]:
    """The map's cells: every combination of the grid's values, in the config's key order, named as
    snakemake.utils.Paramspace names them ('learning_rate-0.001_width-0.25')."""
    grid = sensitivity["grid"]
    if not sensitivity["variants"] or not grid:
        return []
    combinations = [dict(zip(grid, values, strict=True)) for values in itertools.product(*grid.values())]
    return [("_".join(f"{key}-{value}" for key, value in cell.items()), cell) for cell in combinations]


def cell_variant(variant: str, cell: str) -> str:
    return f"{variant}{CELL_SEPARATOR}{cell}"


def split_cell_variant(name: str) -> tuple[str, str | None]:
    """'cifar_12conv_relu.learning_rate-0.001_width-0.25' -> ('cifar_12conv_relu', 'learning_rate-...');
    a plain variant's cell is None."""
    variant, _, cell = name.partition(CELL_SEPARATOR)
    return variant, cell or None


def sensitivity_runs(config: dict) -> list[tuple[str, int]]:
    """Every (cell variant, seed) of the map: every variant of ``sensitivity.variants`` in every cell is a
    variant of its own, trained like any other."""
    sensitivity = config["sensitivity"]
    return [
        (cell_variant(variant, cell), seed)
        for variant in sensitivity["variants"]
        for cell, _ in cells(sensitivity)
        for seed in sensitivity["seeds"]
    ]


# The cell of the lecture's own setting (config ``lecture_cell``): its variants are named '<variant>.lecture'.
LECTURE_CELL = "lecture"


def lecture_cell_runs(config: dict) -> list[tuple[str, int]]:
    """Every (variant, seed) of the lecture's cell, its variants named as cell variants."""
    lecture = config["lecture_cell"]
    return [(cell_variant(variant, LECTURE_CELL), seed) for variant in lecture["variants"] for seed in lecture["seeds"]]


# The stages config ``restore`` can take from a published study's facts, and their runs.
RESTORABLE_STAGES = {"sensitivity": sensitivity_runs, "lecture_cell": lecture_cell_runs}


def restored_runs(config: dict) -> list[tuple[str, int]]:
    """The runs of the stages config ``restore`` takes from a published study's facts instead of training."""
    return [run for stage in config["restore"]["stages"] for run in RESTORABLE_STAGES[stage](config)]


def variant_spec(config: dict, name: str) -> dict:
    """A variant's spec: the config's entry, or for a cell variant, its variant's entry with the cell's values
    (a map's cell, or the lecture's settings)."""
    variant, cell = split_cell_variant(name)
    spec = config["variants"][variant]
    if cell is None:
        return spec
    if cell == LECTURE_CELL:
        return spec | config["lecture_cell"]["settings"]
    return spec | dict(cells(config["sensitivity"]))[cell]


def variant_subset(config: dict, name: str) -> dict:
    """The caps on a variant's images per split: its own ``subset``, else the study's."""
    return variant_spec(config, name).get("subset", config["subset"])


def planned_runs(config: dict) -> list[tuple[str, int]]:
    """Every run the study may train: every trained variant on every seed (all looks taken), its stability
    check's runs, the map's cells and the lecture's cell, but for the stages it restores (config restore)."""
    runs = [(variant, seed) for variant in trained_variants(config) for seed in config["seeds"]]
    extra = [*stability_runs(config), *sensitivity_runs(config), *lecture_cell_runs(config)]
    restored = set(restored_runs(config))
    return [run for run in dict.fromkeys([*runs, *extra]) if run not in restored]


def planned_variants(config: dict) -> list[str]:
    """Every variant the study may train, cell variants included."""
    return list(dict.fromkeys(variant for variant, _ in planned_runs(config)))


def trained_datasets(config: dict) -> list[str]:
    """The datasets of the variants the study trains (not the map's cells)."""
    return sorted({config["variants"][variant]["dataset"] for variant in trained_variants(config)})


def planned_datasets(config: dict) -> list[str]:
    return sorted({variant_spec(config, variant)["dataset"] for variant in planned_variants(config)})


def checkpoint_dir(run_dir: str) -> str:
    """Where a training job keeps its checkpoints while it runs, derived from its run folder (its outputs'),
    so that a prefixed or relocated study keeps its own: <study>/checkpoints/<variant>/seed_<seed>."""
    parts = run_dir.rstrip("/").split("/")
    return "/".join([*parts[:-3], "checkpoints", *parts[-2:]])


def run_dirs_of(files: list[str]) -> list[str]:
    """The run folders of a rule's inputs (one file per run), in order."""
    return list(dict.fromkeys(str(file).rsplit("/", 1)[0] for file in files))
