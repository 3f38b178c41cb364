import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
# The venv's own command line, whether or not the venv is activated.
SNAKEMAKE = str(Path(sys.executable).parent / "snakemake")
sys.path.insert(0, str(Path(__file__).parent))  # for fakedata


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
