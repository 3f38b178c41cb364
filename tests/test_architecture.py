"""The package's shape: only study.training imports a framework, functions stay small, a run is one value, and
nothing assumes ten classes."""

import ast
import json
import subprocess
import sys

from conftest import REPO

from study.config import load_config
from study.training.run import Run

SRC = REPO / "src" / "study"
FRAMEWORKS = ("tensorflow", "keras", "jax")
# Every module outside study.training, by import name: the tables side, data, reporting, planning.
TABLES_SIDE = sorted(
    ".".join(("study", *path.relative_to(SRC).with_suffix("").parts))
    for path in SRC.rglob("*.py")
    if path.relative_to(SRC).parts[0] != "training" and path.name != "__init__.py"
)
BLOCK_FRAMEWORKS = """
import importlib.abc, sys

class Blocked(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("tensorflow", "keras", "jax"):
            raise ImportError(f"{name} is blocked in this test")

sys.meta_path.insert(0, Blocked())
for module in sys.argv[1:]:
    __import__(module)
print(sorted(m for m in sys.modules if m.split(".")[0] in ("tensorflow", "keras", "jax")))
"""


def imported_modules(path):
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            yield node.module


def test_only_the_training_package_imports_a_framework():
    importers = sorted(
        str(path.relative_to(SRC))
        for path in SRC.rglob("*.py")
        if any(name.split(".")[0] in FRAMEWORKS for name in imported_modules(path))
    )
    assert importers and all(name.startswith("training/") for name in importers), importers


def test_no_module_notebook_or_rule_assumes_ten_classes():
    sources = [*SRC.rglob("*.py"), *(REPO / "workflow").rglob("*.*")]
    found = [
        f"{path.relative_to(REPO)}: {word}"
        for path in sources
        if path.suffix in (".py", ".ipynb", ".smk", ".rst", ".yaml")
        for word in ("NUM_CLASSES", "ln 10", "2.303", "2.302", "log(10)")
        if word in path.read_text()
    ]
    assert found == []


def test_the_tables_side_imports_with_tensorflow_and_keras_blocked():
    assert "study.analysis.tables" in TABLES_SIDE and "study.reporting.figures" in TABLES_SIDE
    result = subprocess.run(
        [sys.executable, "-c", BLOCK_FRAMEWORKS, *TABLES_SIDE], capture_output=True, text=True, cwd=REPO
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.strip() == "[]"


def test_the_block_really_blocks():
    result = subprocess.run(
        [sys.executable, "-c", BLOCK_FRAMEWORKS, "study.training.loop"], capture_output=True, text=True
    )
    assert result.returncode != 0 and "is blocked in this test" in result.stderr


def functions(tree):
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            yield node


def test_no_function_is_over_80_lines_or_takes_more_than_8_parameters():
    too_big = []
    for path in sorted(SRC.rglob("*.py")):
        for function in functions(ast.parse(path.read_text())):
            args = function.args
            parameters = [*args.posonlyargs, *args.args, *args.kwonlyargs]
            parameters = [a for a in parameters if a.arg not in ("self", "cls")]
            lines = function.end_lineno - function.lineno + 1
            if lines > 80 or len(parameters) > 8:
                too_big.append(f"{path.relative_to(SRC)}:{function.name} ({lines} lines, {len(parameters)} parameters)")
    assert too_big == []


def test_a_run_is_built_from_the_config_and_survives_json():
    config = load_config([REPO / "config" / "config.yaml", REPO / "config" / "quick.yaml"])
    run = Run.from_config(config, "cifar_12conv_relu_he", 2)
    spec = config["variants"]["cifar_12conv_relu_he"]
    assert run.spec == {key: value for key, value in spec.items() if key != "lecture"} and run.spec["width"] == 0.5
    assert run.subset == {"train": 10000, "val": 2000} and run.seed == 2 and run.dataset == "cifar10"
    assert run.training == config["training"] and "outcomes" not in run.to_dict()
    assert run.diagnostics == {"probe_images": 256, "saturation": 0.01, "step_interval": 5, "train_probe_images": 1024}
    assert Run.from_dict(json.loads(json.dumps(run.to_dict()))) == run
    resolved = run.with_training(run.training | {"precision": "float32"})
    assert resolved.training["precision"] == "float32" and run.training["precision"] == "auto"


def test_the_benchmark_reads_its_models_from_the_config():
    from study.training.bench.throughput import MODELS, bench_specs

    config = load_config([REPO / "config" / "config.yaml"])
    specs = bench_specs([str(REPO / "config" / "config.yaml")])
    assert set(specs) == set(MODELS)
    for name, spec in specs.items():
        assert spec == config["variants"][MODELS[name]["variant"]]


def test_analysis_imports_nothing_from_reporting_and_no_reporting_module_is_over_300_lines():
    importers = [
        str(path.relative_to(SRC))
        for path in (SRC / "analysis").rglob("*.py")
        if any(name.startswith("study.reporting") for name in imported_modules(path))
    ]
    assert importers == []
    long = {
        path.name: n for path in (SRC / "reporting").glob("*.py") if (n := len(path.read_text().splitlines())) > 300
    }
    assert long == {}


def test_a_runs_folder_is_spelled_out_in_one_place():
    spelled = [
        f"{path.relative_to(REPO)}:{number}"
        for path in [*SRC.rglob("*.py"), *(REPO / "workflow").rglob("*.smk"), *(REPO / "workflow").rglob("*.py")]
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if "runs/{variant}/seed_{seed}" in line or "results/runs/" in line
    ]
    assert spelled == ["src/study/layout.py:20", "src/study/layout.py:21"], "the comment and RUN_DIR"


def test_analysis_tables_hold_numbers_and_reporting_adds_their_words():
    from study.analysis.claims import CLAIM_COLUMNS
    from study.analysis.lecture_cell import LECTURE_CELL_COLUMNS
    from study.analysis.tables import RUN_COLUMNS
    from study.layout import TABLES
    from study.reporting.claim_words import CLAIMS_TABLE_COLUMNS

    words = {"evidence", "reason", "per_seed", "power_at", "power_at_observed"}
    assert not words & set(CLAIM_COLUMNS) and words <= set(CLAIMS_TABLE_COLUMNS)
    assert "outcome_reason" not in RUN_COLUMNS and "outcome_reason" not in LECTURE_CELL_COLUMNS
    worded = {table.name for table in TABLES if table.make.startswith("study.reporting.")}
    assert worded == {"claims", "runs", "stability", "sensitivity_claims", "lecture_cell"}
