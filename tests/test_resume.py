"""A training job killed at any moment resumes from its last completed epoch."""

import json
import os
import signal
import subprocess
import sys
import time

import pandas as pd
import pytest
from conftest import make_run
from fakedata import prepared_cifar10

SPEC = {
    "dataset": "cifar10",
    "blocks": [[8], [16]],
    "width": 1.0,
    "activation": "relu",
    "dense": [32],
    "normalization": "standardize",
    "batchnorm": True,
    "initializer": "he_normal",
    "skip": True,
    "epochs": 5,
    "batch_size": 50,
    "learning_rate": 0.001,
    "lecture": {},
}


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return prepared_cifar10(tmp_path_factory.mktemp("resume"), n_train=400, n_test=50)


def launch(data, name, checkpoint=True, backend="tensorflow"):
    training = {"backend": backend, "precision": "auto", "steps_per_execution": 1}
    run = make_run(
        SPEC, 4, variant="resumable", diagnostics={"probe_images": 20, "saturation": 0.01}, training=training
    )
    args = {
        "run": run.to_dict(),
        "data_dir": str(data / "data"),
        "stats_path": str(data / "stats.json"),
        "out_dir": str(data / name),
        "threads": 1,
        "checkpoint_dir": str(data / f"{name}-checkpoint") if checkpoint else None,
    }
    return subprocess.Popen(
        [sys.executable, "-m", "study.job", json.dumps(args)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


@pytest.mark.parametrize("backend", ["tensorflow", "jax"])
def test_killed_run_resumes_from_its_last_epoch_and_matches_an_uninterrupted_one(data, backend):
    straight, killed = f"straight-{backend}", f"killed-{backend}"
    assert launch(data, straight, checkpoint=False, backend=backend).wait(timeout=300) == 0

    victim = launch(data, killed, backend=backend)
    metadata = data / f"{killed}-checkpoint" / "training_metadata.json"
    deadline = time.monotonic() + 240
    while not (metadata.exists() and json.loads(metadata.read_text())["epoch"] >= 2):
        assert victim.poll() is None, victim.stdout.read()
        assert time.monotonic() < deadline, "no epoch was checkpointed in time"
        time.sleep(0.05)
    os.kill(victim.pid, signal.SIGKILL)
    victim.wait()
    saved = json.loads(metadata.read_text())["epoch"]
    assert 2 <= saved < SPEC["epochs"], "the kill must land mid-run"
    assert not (data / killed / "metrics.json").exists()

    rerun = launch(data, killed, backend=backend)
    output, _ = rerun.communicate(timeout=300)
    assert rerun.returncode == 0, output
    assert f"resuming from the checkpoint of epoch {saved}" in output

    straight = pd.read_csv(data / straight / "history.csv")
    resumed = pd.read_csv(data / killed / "history.csv")
    assert resumed["epoch"].tolist() == list(range(1, SPEC["epochs"] + 1)), "each epoch exactly once"
    columns = ["loss", "accuracy", "val_loss", "val_accuracy"]
    pd.testing.assert_frame_equal(resumed[columns], straight[columns], check_exact=True)
    diagnostics = pd.read_csv(data / killed / "diagnostics.csv")
    assert sorted(diagnostics["epoch"].unique()) == list(range(0, SPEC["epochs"] + 1))
    assert not diagnostics.duplicated(["epoch", "layer", "statistic"]).any()
    metrics = json.loads((data / killed / "metrics.json").read_text())
    assert metrics["resumed_from_epoch"] == saved and metrics["epochs"] == SPEC["epochs"]
    assert not (data / f"{killed}-checkpoint").exists(), "the checkpoint goes once the outputs are written"


def test_a_checkpoint_resumes_only_the_run_that_saved_it(tmp_path):
    from study.checkpoints import open_checkpoint

    checkpoint = tmp_path / "checkpoint"
    run = make_run(SPEC, 1, training={"precision": "float32", "steps_per_execution": 1})
    assert open_checkpoint(checkpoint, run.to_dict()) == 0
    (checkpoint / "training_metadata.json").write_text(json.dumps({"epoch": 3}))
    assert open_checkpoint(checkpoint, json.loads(json.dumps(run.to_dict()))) == 3

    changed = make_run(SPEC | {"learning_rate": 0.01}, 1, training=run.training)
    assert open_checkpoint(checkpoint, changed.to_dict()) == 0
    assert not (checkpoint / "training_metadata.json").exists(), "another run's weights are not resumed"
    assert json.loads((checkpoint / "run.json").read_text())["spec"]["learning_rate"] == 0.01
