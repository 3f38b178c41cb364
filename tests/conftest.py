import dataclasses
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from study.training.run import Run

REPO = Path(__file__).resolve().parents[1]
# The venv's own command line, whether or not the venv is activated.
SNAKEMAKE = str(Path(sys.executable).parent / "snakemake")
sys.path.insert(0, str(Path(__file__).parent))  # for fakedata
LOCAL = ("--cores", "2", "--resources", "gpu=1")


def workflow_command(work: Path, config: Path, *extra: str) -> list[str]:
    """The real workflow's command line, run in ``work``, with ``config`` layered on the default config."""
    return [
        SNAKEMAKE,
        "--snakefile",
        str(REPO / "Snakefile"),
        "--directory",
        str(work),
        "--configfile",
        str(REPO / "config" / "config.yaml"),
        str(config),
        *extra,
    ]


def run_locally(work: Path, config: Path, timeout: int) -> Path:
    """Run the workflow on this machine as a user would; return its results folder (its output: WORK/run.out)."""
    result = subprocess.run(workflow_command(work, config, *LOCAL), capture_output=True, text=True, timeout=timeout)
    (work / "run.out").write_text(result.stdout + result.stderr)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-5000:]
    return work / "results"


OUTCOME_THRESHOLDS = {
    "windows": 3,
    "plateau_margin": 0.05,
    "overfit_gap": 0.15,
    "evaluated_accuracy_margin": 0.05,
    "causes": {
        "vanishing_gradient_ratio": 0.01,
        "small_gradient_scale": 0.001,
        "dead_fraction": 0.9,
        "saturated_fraction": 0.9,
    },
}


def judged(run_dir: Path) -> dict:
    """A trained run's metrics with the judgement the tables side gives it under the default thresholds."""
    from study.analysis.outcomes import judge_run
    from study.analysis.tables import read_run

    metrics, tables = read_run(run_dir)
    history, steps, diagnostics = (tables[name] for name in ("history.csv", "steps.csv", "diagnostics.csv"))
    stopped = metrics.get("dead_runs", {}).get("stopped")
    return metrics | judge_run(history, steps, diagnostics, metrics["classes"], OUTCOME_THRESHOLDS, "relu", stopped)


def make_run(spec: dict, seed: int, **changes) -> Run:
    """A run of ``spec`` named 'small', on the full splits, with the schema's training defaults and a small probe."""
    run = Run(
        variant="small",
        seed=seed,
        spec=spec,
        subset={},
        subset_seed=0,
        training={"backend": "tensorflow", "precision": "auto", "steps_per_execution": 1},
        diagnostics={"probe_images": 32, "saturation": 0.01, "step_interval": 5, "train_probe_images": 64},
        dead_runs={"stop": True, "check_every_steps": 10, "consecutive_checks": 3},
    )
    return dataclasses.replace(run, **changes)


def job_command(run: Run, prepared: Path, name: str, **options) -> list[str]:
    """The command that trains ``run`` (python -m study.training.job) on data from fakedata.prepared_cifar10 into
    PREPARED/NAME; ``options`` are more of train_run's arguments."""
    job = {
        "run": run.to_dict(),
        "data_dir": str(prepared / "data"),
        "stats_path": str(prepared / "stats.json"),
        "out_dir": str(prepared / name),
        "threads": 1,
        **options,
    }
    return [sys.executable, "-m", "study.training.job", json.dumps(job)]


def kill_once_sealed(job: subprocess.Popen, checkpoint_dir: Path, epoch: int, poll_seconds: float) -> int:
    """SIGKILL a training job once its checkpoint has sealed ``epoch`` (a kill between an epoch's weights and
    its seal starts the run over instead: the chaos test kills there); the epoch it had sealed."""
    seal = checkpoint_dir / "seal.json"
    deadline = time.monotonic() + 240
    while not (seal.exists() and json.loads(seal.read_text())["epoch"] >= epoch):
        assert job.poll() is None, job.stdout.read()
        assert time.monotonic() < deadline, "no epoch was checkpointed in time"
        time.sleep(poll_seconds)
    os.kill(job.pid, signal.SIGKILL)
    job.wait()
    return json.loads(seal.read_text())["epoch"]


@pytest.fixture
def default_config():
    return yaml.safe_load((REPO / "config" / "config.yaml").read_text())


# A small CIFAR-10 variant with every key the schema fills in; tests vary it with `|`.
SMALL_SPEC = {
    "dataset": "cifar10",
    "blocks": [[4], [8]],
    "width": 1.0,
    "activation": "relu",
    "dense": [16],
    "normalization": "scale01",
    "batchnorm": False,
    "batchnorm_momentum": 0.99,
    "initializer": "glorot_uniform",
    "skip": False,
    "epochs": 2,
    "batch_size": 32,
    "learning_rate": 0.001,
    "lecture": {},
}


@pytest.fixture
def small_spec():
    return dict(SMALL_SPEC)


# The files that run real workflows, longest first: `make test` spreads test files over two workers
# (pytest-xdist, --dist loadfile) in the order collected, and a long file collected last leaves one worker
# idle while the other finishes it.
LONGEST_FIRST = [
    "test_slurm.py",
    "test_workflow.py",
    "test_chaos.py",
    "test_real_data.py",
    "test_tracking.py",
    "test_full_disk.py",
    "test_deploy.py",
    "test_backends.py",
    "test_resume.py",
]


def pytest_collection_modifyitems(items):
    rank = {name: i for i, name in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))
