"""The workflow on real data: Debian's Fashion-MNIST and a small CIFAR-10 mirror.

`.ci/run` installs `dataset-fashion-mnist` and builds the mirror with
../shared/datasets/make_cifar10_mirror.py --limit-per-class 100. Outside CI the
test is skipped when that data is missing; in CI it fails.
"""

import hashlib
import json
import math
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml
from conftest import REPO, run_locally

FASHION_MNIST = Path(os.environ.get("FASHION_MNIST_DIR", "/usr/share/datasets/fashion-mnist"))
CIFAR10_BUILDER = Path(
    os.environ.get("CIFAR10_BUILDER", REPO.parent / "shared" / "datasets" / "make_cifar10_mirror.py")
)
DEEP = {"blocks": [[64, 64], [128, 128], [256, 256]], "dense": [512], "width": 0.5, "epochs": 30}


@pytest.fixture(scope="module")
def real_run(tmp_path_factory):
    if not (FASHION_MNIST / "train-images-idx3-ubyte.gz").exists() or not CIFAR10_BUILDER.exists():
        if os.environ.get("CI"):
            pytest.fail(f"CI must run the real-data test: need {FASHION_MNIST} and {CIFAR10_BUILDER}")
        pytest.skip("needs Debian's dataset-fashion-mnist and ../shared/datasets")
    work = tmp_path_factory.mktemp("real")
    mirror = work / "mirror"  # a folder per dataset, as `make mirror` fills it
    (mirror / "fashion_mnist").mkdir(parents=True)
    for path in FASHION_MNIST.glob("*-ubyte.gz"):
        shutil.copy(path, mirror / "fashion_mnist")
    builder = [sys.executable, str(CIFAR10_BUILDER), str(mirror / "cifar10"), "--format", "binary"]
    subprocess.run([*builder, "--limit-per-class", "100"], check=True, capture_output=True)
    archive = (mirror / "cifar10" / "cifar-10-binary.tar.gz").read_bytes()
    config = {
        "mirror": str(mirror),
        "seeds": [1],
        "design": {"looks": []},  # one look: config.yaml's looks are for its 70 seeds
        "variants_to_train": ["fmnist_2conv_sigmoid", "cifar_6conv_sigmoid", "cifar_6conv_relu"],
        "subset": {"train": 1000, "val": 200},
        # The subset mirror is built here, so its checksum is too; Fashion-MNIST keeps
        # the config's upstream payload checksums.
        "datasets": {
            "cifar10": {
                "files": {
                    "cifar-10-binary.tar.gz": {
                        "algorithm": "sha256",
                        "covers": "file",
                        "value": hashlib.sha256(archive).hexdigest(),
                    }
                }
            }
        },
        "variants": {"fmnist_2conv_sigmoid": {"epochs": 2}, "cifar_6conv_sigmoid": DEEP, "cifar_6conv_relu": DEEP},
    }
    (work / "real.yaml").write_text(yaml.safe_dump(config))
    return run_locally(work, work / "real.yaml", timeout=1500)


def metrics(results, variant):
    return json.loads((results / "runs" / variant / "seed_1" / "metrics.json").read_text())


def judged(results, variant):
    """The run's row of runs.csv: the outcome the tables side gave it."""
    runs = pd.read_csv(results / "tables" / "runs.csv")
    return runs[(runs["variant"] == variant) & (runs["seed"] == 1)].iloc[0]


def test_deep_sigmoid_net_is_stuck_at_chance_on_real_cifar10(real_run):
    sigmoid = judged(real_run, "cifar_6conv_sigmoid")
    assert sigmoid["outcome"] == "stuck", sigmoid["outcome_reason"]
    assert sigmoid["classes"] == 10 and abs(sigmoid["final_train_loss"] - math.log(sigmoid["classes"])) < 0.05


def test_its_relu_twin_learns(real_run):
    relu = judged(real_run, "cifar_6conv_relu")
    assert relu["outcome"] in {"learns", "overfits"}, relu["outcome_reason"]
    assert relu["final_train_accuracy"] > 0.2


def test_real_data_went_through_the_mirror_and_checksums(real_run):
    fmnist = metrics(real_run, "fmnist_2conv_sigmoid")
    assert fmnist["data"]["train_class_counts"] == [100] * 10
    stats = json.loads((real_run / "stats" / "fashion_mnist.json").read_text())
    assert stats["images"] == 60000  # statistics over the full training set, as the lecture's
    assert stats["mean"][0] == pytest.approx(72.94, abs=0.01)
