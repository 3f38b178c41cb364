import subprocess
import sys
from pathlib import Path

import pytest
import yaml

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
    """Run the workflow on this machine as a user would; return its results folder."""
    result = subprocess.run(workflow_command(work, config, *LOCAL), capture_output=True, text=True, timeout=timeout)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-5000:]
    return work / "results"


@pytest.fixture
def default_config():
    return yaml.safe_load((REPO / "config" / "config.yaml").read_text())


@pytest.fixture
def small_spec():
    return {
        "dataset": "cifar10",
        "blocks": [[4], [8]],
        "width": 1.0,
        "activation": "relu",
        "dense": [16],
        "normalization": "scale01",
        "batchnorm": False,
        "initializer": "glorot_uniform",
        "skip": False,
        "epochs": 2,
        "batch_size": 32,
        "learning_rate": 0.001,
        "lecture": {},
    }
