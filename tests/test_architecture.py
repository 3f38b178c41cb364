"""The package's shape: the tables side runs without TensorFlow, functions stay small, a run is one value."""

import ast
import json
import subprocess
import sys

from conftest import REPO

from study.config import load_config
from study.run import Run

TABLES_SIDE = ["study.aggregate", "study.claims", "study.params", "study.report", "study.publish"]
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


def test_the_tables_side_imports_with_tensorflow_and_keras_blocked():
    result = subprocess.run(
        [sys.executable, "-c", BLOCK_FRAMEWORKS, *TABLES_SIDE], capture_output=True, text=True, cwd=REPO
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.strip() == "[]"


def test_the_block_really_blocks():
    result = subprocess.run([sys.executable, "-c", BLOCK_FRAMEWORKS, "study.train"], capture_output=True, text=True)
    assert result.returncode != 0 and "is blocked in this test" in result.stderr


def functions(tree):
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            yield node


def test_no_function_is_over_80_lines_or_takes_more_than_8_parameters():
    too_big = []
    for path in sorted((REPO / "src" / "study").glob("*.py")):
        for function in functions(ast.parse(path.read_text())):
            args = function.args
            parameters = [*args.posonlyargs, *args.args, *args.kwonlyargs]
            parameters = [a for a in parameters if a.arg not in ("self", "cls")]
            lines = function.end_lineno - function.lineno + 1
            if lines > 80 or len(parameters) > 8:
                too_big.append(f"{path.name}:{function.name} ({lines} lines, {len(parameters)} parameters)")
    assert too_big == []


def test_a_run_is_built_from_the_config_and_survives_json():
    config = load_config([REPO / "config" / "config.yaml", REPO / "config" / "quick.yaml"])
    run = Run.from_config(config, "cifar_12conv_relu_he", 2)
    assert run.spec == config["variants"]["cifar_12conv_relu_he"] and run.spec["width"] == 0.25
    assert run.subset == {"train": 10000, "test": 2000} and run.seed == 2 and run.dataset == "cifar10"
    assert run.training == config["training"] and run.verdicts == config["verdicts"]
    assert run.diagnostics == {"probe_images": 256, "saturation": 0.01, "step_interval": 5}
    assert Run.from_dict(json.loads(json.dumps(run.to_dict()))) == run
    resolved = run.with_training(run.training | {"precision": "float32"})
    assert resolved.training["precision"] == "float32" and run.training["precision"] == "auto"


def test_the_benchmark_reads_its_models_from_the_config():
    from study.bench import MODELS, bench_specs

    config = load_config([REPO / "config" / "config.yaml"])
    specs = bench_specs([str(REPO / "config" / "config.yaml")])
    assert set(specs) == set(MODELS)
    for name, spec in specs.items():
        assert spec == config["variants"][MODELS[name]["variant"]]
