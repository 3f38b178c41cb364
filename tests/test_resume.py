"""A training job killed at any moment resumes from its last completed epoch."""

import json
import subprocess

import pandas as pd
import pytest
from conftest import SMALL_SPEC, job_command, kill_once_sealed, make_run
from fakedata import prepared_cifar10

SPEC = SMALL_SPEC | {
    "blocks": [[8], [16]],
    "dense": [32],
    "normalization": "standardize",
    "batchnorm": True,
    "initializer": "he_normal",
    "skip": True,
    "epochs": 5,
    "batch_size": 50,
}
# An optimizer and activation from config: SGD with momentum, a warm-up and a cosine decay, leaky ReLUs.
SGD_SPEC = SPEC | {
    "activation": "leaky_relu",
    "learning_rate": 0.01,
    "optimizer": {"name": "sgd", "momentum": 0.9, "weight_decay": 0.004, "warmup_steps": 10, "schedule": "cosine"},
}


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return prepared_cifar10(tmp_path_factory.mktemp("resume"), n_train=400, n_val=50)


def launch(data, name, checkpoint=True, backend="tensorflow", spec=SPEC):
    training = {"backend": backend, "precision": "auto", "steps_per_execution": 1}
    run = make_run(
        spec,
        4,
        variant="resumable",
        diagnostics={"probe_images": 20, "saturation": 0.01, "step_interval": 3, "train_probe_images": 40},
        training=training,
    )
    checkpoint_dir = str(data / f"{name}-checkpoint") if checkpoint else None
    command = job_command(run, data, name, checkpoint_dir=checkpoint_dir)
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


@pytest.mark.parametrize(
    ("backend", "spec"), [("tensorflow", SPEC), ("jax", SPEC), ("tensorflow", SGD_SPEC)], ids=["tf", "jax", "tf-sgd"]
)
def test_killed_run_resumes_from_its_last_epoch_and_matches_an_uninterrupted_one(data, backend, spec):
    name = f"{backend}-{spec['optimizer']['name']}" if "optimizer" in spec else backend
    straight, killed = f"straight-{name}", f"killed-{name}"
    assert launch(data, straight, checkpoint=False, backend=backend, spec=spec).wait(timeout=300) == 0

    victim = launch(data, killed, backend=backend, spec=spec)
    saved = kill_once_sealed(victim, data / f"{killed}-checkpoint", epoch=2, poll_seconds=0.05)
    assert 2 <= saved < SPEC["epochs"], "the kill must land mid-run"
    assert not (data / killed / "metrics.json").exists()

    rerun = launch(data, killed, backend=backend, spec=spec)
    output, _ = rerun.communicate(timeout=300)
    assert rerun.returncode == 0, output
    assert f"resuming from the checkpoint of epoch {saved}" in output
    if spec is SGD_SPEC:
        assert "optimizer: SGD (momentum 0.9) at lr 0.01, warm-up 10 steps, cosine rate, 40 steps" in output

    uninterrupted = pd.read_csv(data / straight / "history.csv")
    resumed = pd.read_csv(data / killed / "history.csv")
    assert resumed["epoch"].tolist() == list(range(1, SPEC["epochs"] + 1)), "each epoch exactly once"
    columns = ["running_loss", "running_accuracy", "train_loss", "train_accuracy", "val_loss", "val_accuracy"]
    pd.testing.assert_frame_equal(resumed[columns], uninterrupted[columns], check_exact=True)
    # the loss every few steps too: the rows of checkpointed epochs are kept, later ones recorded again
    steps = [pd.read_csv(data / run / "steps.csv") for run in (straight, killed)]
    pd.testing.assert_frame_equal(steps[1], steps[0], check_exact=True)
    diagnostics = pd.read_csv(data / killed / "diagnostics.csv")
    assert sorted(diagnostics["epoch"].unique()) == list(range(0, SPEC["epochs"] + 1))
    assert not diagnostics.duplicated(["epoch", "layer", "statistic"]).any()
    assert "dead_fraction" in set(diagnostics["statistic"]), "leaky ReLUs are counted as the ReLU family"
    metrics = json.loads((data / killed / "metrics.json").read_text())
    assert metrics["resumed_from_epoch"] == saved and metrics["epochs"] == SPEC["epochs"]
    assert not (data / f"{killed}-checkpoint").exists(), "the checkpoint goes once the outputs are written"


def whole_checkpoint(checkpoint, epoch: int) -> None:
    """The files a run leaves after ``epoch`` epochs (weights stand-in included), sealed as training seals them."""
    import pandas as pd

    from study.training.checkpoints import CheckpointSeal, save_rows

    (checkpoint / "latest.weights.h5").write_bytes(b"weights" * 100)
    (checkpoint / "training_metadata.json").write_text(json.dumps({"epoch": epoch}))
    rows = pd.DataFrame({"epoch": range(1, epoch + 1), "loss": 1.0})
    steps = pd.DataFrame({"step": range(1, epoch + 1), "epoch": range(1, epoch + 1), "loss": 1.0})
    save_rows(checkpoint, rows, steps, pd.DataFrame({"epoch": range(epoch + 1), "value": 0.0}), 1.5)
    CheckpointSeal(checkpoint).on_epoch_end(epoch - 1)


def test_a_checkpoint_resumes_only_the_run_that_saved_it(tmp_path):
    from study.training.checkpoints import open_checkpoint

    checkpoint = tmp_path / "checkpoint"
    run = make_run(SPEC, 1, training={"precision": "float32", "steps_per_execution": 1})
    assert open_checkpoint(checkpoint, run.to_dict()) == 0
    whole_checkpoint(checkpoint, 3)
    assert open_checkpoint(checkpoint, json.loads(json.dumps(run.to_dict()))) == 3

    changed = make_run(SPEC | {"learning_rate": 0.01}, 1, training=run.training)
    assert open_checkpoint(checkpoint, changed.to_dict()) == 0
    assert not (checkpoint / "training_metadata.json").exists(), "another run's weights are not resumed"
    assert json.loads((checkpoint / "run.json").read_text())["run"]["spec"]["learning_rate"] == 0.01


def test_weights_of_a_first_epoch_that_never_finished_saving_are_not_loaded(tmp_path, capsys):
    # a full disk or a kill during the first save: a weights file, but no training_metadata.json yet
    from study.training.checkpoints import open_checkpoint

    checkpoint = tmp_path / "checkpoint"
    run = make_run(SPEC, 1, training={"precision": "float32", "steps_per_execution": 1})
    assert open_checkpoint(checkpoint, run.to_dict()) == 0
    (checkpoint / "latest.weights.h5").write_bytes(b"half a file")
    assert open_checkpoint(checkpoint, run.to_dict()) == 0
    assert not (checkpoint / "latest.weights.h5").exists(), "Keras would try to load it"
    assert "its first epoch was never saved whole" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("harm", "problem"),
    [
        (lambda c: (c / "latest.weights.h5").write_bytes(b"weights" * 50), "latest.weights.h5 does not match its seal"),
        (lambda c: (c / "training_metadata.json").write_text('{"epo'), "training_metadata.json is unreadable"),
        (lambda c: (c / "seal.json").unlink(), "no seal for epoch 3"),
        (lambda c: (c / "epochs.csv").write_text("epoch,loss\n1,1.0\n"), "its rows do not cover epochs 1 to 3"),
        (lambda c: (c / "diagnostics.csv").unlink(), "its rows are unreadable"),
    ],
    ids=["truncated-weights", "corrupt-metadata", "unsealed", "missing-rows", "lost-diagnostics"],
)
def test_a_damaged_checkpoint_is_never_trusted_and_the_run_starts_over(tmp_path, capsys, harm, problem):
    from study.training.checkpoints import open_checkpoint

    checkpoint = tmp_path / "checkpoint"
    identity = make_run(SPEC, 1).to_dict()
    open_checkpoint(checkpoint, identity)
    whole_checkpoint(checkpoint, 3)
    harm(checkpoint)
    assert open_checkpoint(checkpoint, identity) == 0
    assert f"is damaged ({problem}" in capsys.readouterr().out
    assert sorted(p.name for p in checkpoint.iterdir()) == ["run.json"], "nothing of it is left to resume"
    assert open_checkpoint(checkpoint, identity) == 0, "and a second start does not loop on it"


def test_a_checkpoint_of_an_older_code_version_is_removed(tmp_path, capsys):
    from study.training.checkpoints import open_checkpoint

    checkpoint = tmp_path / "checkpoint"
    checkpoint.mkdir()
    identity = make_run(SPEC, 1).to_dict()
    (checkpoint / "run.json").write_text(json.dumps(identity, sort_keys=True))  # before checkpoint formats
    (checkpoint / "training_metadata.json").write_text(json.dumps({"epoch": 2}))
    assert open_checkpoint(checkpoint, identity) == 0
    assert "another run or code version" in capsys.readouterr().out


def test_a_killed_run_whose_checkpoint_was_damaged_starts_over_and_matches_an_uninterrupted_one(data):
    assert launch(data, "straight-again", checkpoint=False).wait(timeout=300) == 0
    # killed once epoch 2 is sealed: a kill before its seal would start over for that reason, not this one
    kill_once_sealed(launch(data, "damaged"), data / "damaged-checkpoint", 2, 0.05)
    weights = data / "damaged-checkpoint" / "latest.weights.h5"
    weights.write_bytes(weights.read_bytes()[: weights.stat().st_size // 2])  # a disk that lost the tail

    rerun = launch(data, "damaged")
    output, _ = rerun.communicate(timeout=300)
    assert rerun.returncode == 0, output
    assert "is damaged (latest.weights.h5 does not match its seal); starting over" in output
    columns = ["running_loss", "running_accuracy", "train_loss", "train_accuracy", "val_loss", "val_accuracy"]
    straight = pd.read_csv(data / "straight-again" / "history.csv")[columns]
    pd.testing.assert_frame_equal(pd.read_csv(data / "damaged" / "history.csv")[columns], straight, check_exact=True)
    assert json.loads((data / "damaged" / "metrics.json").read_text())["resumed_from_epoch"] is None
