import json
import re

import keras
import numpy as np
import pandas as pd
import pytest
from conftest import judged, make_run
from fakedata import prepared_cifar10

from study.training.feeding import epoch_orders, make_dataset
from study.training.loop import HISTORY_COLUMNS, train_run
from study.training.models import sigmoid
from study.training.runtime import choose_precision, resolve_training


@pytest.fixture
def prepared(tmp_path):
    return prepared_cifar10(tmp_path, n_train=100, n_val=30)


def run(prepared, spec, seed, name, **changes):
    """Train ``spec`` with ``seed`` into prepared/name; ``changes`` replace fields of the run."""
    return train_run(
        make_run(spec, seed, **changes), prepared / "data", prepared / "stats.json", prepared / name, threads=1
    )


def test_a_run_writes_history_metrics_and_model(prepared, small_spec):
    metrics = run(prepared, small_spec | {"normalization": "standardize", "batchnorm": True}, 3, "a")
    history = pd.read_csv(prepared / "a" / "history.csv")
    assert list(history.columns) == HISTORY_COLUMNS
    assert history["epoch"].tolist() == [1, 2]
    assert (history["seconds"] > 0).all()
    assert (prepared / "a" / "model.keras").stat().st_size > 0
    saved = json.loads((prepared / "a" / "metrics.json").read_text())
    assert saved == json.loads(json.dumps(metrics))
    assert saved["final_val_accuracy"] == history["val_accuracy"].iloc[-1]
    assert saved["best_val_accuracy"] == history["val_accuracy"].max()
    assert saved["device"]["type"] == "CPU"
    assert saved["runtime"]["op_determinism"] is True
    assert saved["versions"]["tensorflow"] and saved["versions"]["keras"]
    assert set(saved["data"]["sources"]) == {"cifar-10-binary.tar.gz"}
    assert saved["run"]["spec"]["batchnorm"] is True and saved["train_images"] == 100
    assert saved["images_per_second"] > 0
    # a training job records facts and judges nothing: outcome and cause are the tables side's
    assert saved["classes"] == 10 and not {"verdict", "outcome", "cause", "plateau_exit_step"} & set(saved)
    assert "verdicts" not in saved["run"] and "outcomes" not in saved["run"]
    assert saved["final_train_accuracy"] == history["train_accuracy"].iloc[-1]
    assert 0 < saved["diagnostics_seconds"] < saved["train_seconds"]
    diagnostics = pd.read_csv(prepared / "a" / "diagnostics.csv")
    assert sorted(diagnostics["epoch"].unique()) == [0, 1, 2]
    layers = diagnostics[diagnostics["statistic"] == "gradient_norm"]["layer"].unique().tolist()
    assert layers == ["block1_conv1", "block2_conv1", "dense1", "predictions"]
    assert set(diagnostics["statistic"]) >= {"gradient_norm", "weight_norm", "update_ratio", "dead_fraction"}


def test_steps_csv_holds_the_loss_every_few_steps_and_its_windows_average_to_each_epochs_loss(prepared, small_spec):
    # 100 images in batches of 32: 4 steps an epoch, the last of 4 images; windows of 3 steps restart each epoch
    diagnostics = {"probe_images": 32, "saturation": 0.01, "step_interval": 3, "train_probe_images": 64}
    metrics = run(prepared, small_spec, 1, "steps", diagnostics=diagnostics)
    steps = pd.read_csv(prepared / "steps" / "steps.csv")
    history = pd.read_csv(prepared / "steps" / "history.csv")
    assert steps["step"].tolist() == [3, 4, 7, 8] and steps["steps"].tolist() == [3, 1, 3, 1]
    assert steps["epoch"].tolist() == [1, 1, 2, 2]
    images = np.array([96, 4, 96, 4])
    for epoch in (1, 2):
        mine = (steps["epoch"] == epoch).to_numpy()
        for metric in ("loss", "accuracy"):
            weighted = np.average(steps.loc[mine, metric], weights=images[mine])
            assert weighted == pytest.approx(history.loc[epoch - 1, f"running_{metric}"], rel=1e-5)
    assert metrics["steps"] == 8 and judged(prepared / "steps")["plateau_exit_step"] in (None, 3, 4, 7, 8)


def test_a_subset_is_the_same_draw_for_every_seed(prepared, small_spec):
    first = run(prepared, small_spec | {"epochs": 1}, 1, "s1", subset={"train": 40, "val": 20}, subset_seed=5)
    second = run(prepared, small_spec | {"epochs": 1}, 2, "s2", subset={"train": 40, "val": 20}, subset_seed=5)
    assert first["train_images"] == 40 and first["val_images"] == 20
    assert first["data"]["train_class_counts"] == second["data"]["train_class_counts"] == [4] * 10


def test_a_diverging_run_is_kept_and_marked(prepared, small_spec):
    run(prepared, small_spec | {"learning_rate": 1e38, "epochs": 3}, 1, "nan")
    assert judged(prepared / "nan")["outcome"] == "diverged"
    history = pd.read_csv(prepared / "nan" / "history.csv")
    assert not np.isfinite(history["running_loss"].iloc[-1])
    assert (prepared / "nan" / "model.keras").exists()


def test_same_seed_repeats_exactly_and_another_seed_differs(prepared, small_spec):
    spec = small_spec | {"skip": True, "batchnorm": True}
    first = run(prepared, spec, 7, "first")
    second = run(prepared, spec, 7, "second")
    other = run(prepared, spec, 8, "other")
    columns = ["running_loss", "running_accuracy", "train_loss", "train_accuracy", "val_loss", "val_accuracy"]
    h1, h2, h3 = (pd.read_csv(prepared / name / "history.csv")[columns] for name in ("first", "second", "other"))
    pd.testing.assert_frame_equal(h1, h2, check_exact=True)
    assert not h1.equals(h3)
    assert first["final_train_loss"] == second["final_train_loss"] != other["final_train_loss"]


def test_batches_are_read_from_the_memory_mapped_split_in_each_epochs_order(tmp_path):
    images = np.arange(10 * 2 * 2 * 3, dtype=np.uint8).reshape(10, 2, 2, 3)
    np.save(tmp_path / "images.npy", images)
    mapped = np.load(tmp_path / "images.npy", mmap_mode="r")
    labels = np.arange(10) % 3
    batches = list(make_dataset(mapped, labels, batch_size=4, seed=5, first_epoch=1, epochs=3))
    orders = epoch_orders(10, seed=5, first_epoch=1, epochs=3)
    assert [len(y) for _, y in batches] == [4, 4, 2] * 2
    pixels = np.concatenate([x.numpy() for x, _ in batches])
    targets = np.concatenate([y.numpy() for _, y in batches])
    assert pixels.dtype == np.uint8 and pixels.shape == (20, 2, 2, 3)
    np.testing.assert_array_equal(pixels, images[orders.ravel()])
    np.testing.assert_array_equal(targets, labels[orders.ravel()])
    in_file_order = np.concatenate([x.numpy() for x, _ in make_dataset(mapped, labels, 4, seed=None)])
    np.testing.assert_array_equal(in_file_order, images)


def test_auto_precision_is_bf16_only_on_cpus_with_amx():
    assert choose_precision("CPU", {"avx512f", "amx_bf16", "amx_tile"})[0] == "mixed_bfloat16"
    assert choose_precision("CPU", {"avx2", "fma"})[0] == "float32"
    assert choose_precision("CPU", {"avx512f", "avx512_bf16"})[0] == "float32"
    assert choose_precision("GPU", {"amx_bf16"})[0] == "float32"
    cpu = {"type": "CPU", "name": "x", "count": 2}
    assert resolve_training({"precision": "float32"}, cpu) == {
        "backend": "tensorflow",
        "precision": "float32",
        "steps_per_execution": 1,
        "precision_choice": "set in the config",
    }
    assert resolve_training({}, cpu)["precision"] in {"float32", "mixed_bfloat16"}
    assert resolve_training({}, cpu)["precision_choice"].startswith("auto: CPU")


def test_a_sigmoid_net_in_bfloat16_repeats_exactly(prepared, small_spec):
    spec = small_spec | {"activation": "sigmoid", "epochs": 1}
    training = {"precision": "mixed_bfloat16", "steps_per_execution": 1}
    first = run(prepared, spec, 4, "bf16_a", training=training)
    second = run(prepared, spec, 4, "bf16_b", training=training)
    h1, h2 = (pd.read_csv(prepared / name / "history.csv") for name in ("bf16_a", "bf16_b"))
    columns = ["running_loss", "running_accuracy", "train_loss", "train_accuracy", "val_loss", "val_accuracy"]
    pd.testing.assert_frame_equal(h1[columns], h2[columns], check_exact=True)
    assert first["run"]["training"]["precision"] == "mixed_bfloat16"
    assert first["final_train_loss"] == second["final_train_loss"]
    # The sigmoid diagnostics still find the fused bf16 sigmoid layers.
    diagnostics = pd.read_csv(prepared / "bf16_a" / "diagnostics.csv")
    saturation = diagnostics[diagnostics["statistic"] == "mean_sigmoid_derivative"]
    assert set(saturation["layer"]) == {"block1_conv1", "block2_conv1", "dense1"}
    assert saturation["value"].between(0, 0.25).all()
    loaded = keras.saving.load_model(prepared / "bf16_a" / "model.keras")
    assert loaded.get_layer("block1_conv1").activation is sigmoid
    assert loaded.get_layer("block1_conv1").dtype_policy.name == "mixed_bfloat16"


def test_speed_settings_are_applied_and_recorded(prepared, small_spec):
    training = {"precision": "mixed_bfloat16", "steps_per_execution": 2}
    metrics = run(prepared, small_spec | {"epochs": 1}, 1, "fast", training=training)
    assert {k: metrics["run"]["training"][k] for k in training} == training
    assert metrics["run"]["training"]["precision_choice"] == "set in the config"
    diagnostics = pd.read_csv(prepared / "fast" / "diagnostics.csv")
    assert (diagnostics[diagnostics["statistic"] == "update_ratio"]["value"] > 0).all()
    assert np.isfinite(metrics["final_train_loss"])


def test_a_run_logs_its_progress_and_writes_tensorboard_events(prepared, small_spec, capsys, monkeypatch):
    import tensorflow as tf

    from study.training import loop as train

    monkeypatch.setattr(train, "PROGRESS_SECONDS", 0)
    run(prepared, small_spec, 3, "watched")
    out = capsys.readouterr().out
    # 100 images in batches of 32: 4 steps an epoch
    assert re.search(r"^epoch 1/2 step 1/4 loss \d+\.\d{4} \d+ img/s epoch ETA \d+ s$", out, re.MULTILINE), out
    assert re.search(r"^epoch 2/2 step 4/4 loss .* epoch ETA 0 s$", out, re.MULTILINE)
    tags = {}
    for events in (prepared / "watched" / "tensorboard").rglob("events.out.tfevents.*"):
        for event in tf.compat.v1.train.summary_iterator(str(events)):
            for value in event.summary.value:
                tags.setdefault(value.tag, set()).add(event.step)
    assert tags["epoch_loss"] == tags["epoch_accuracy"] == {0, 1}
    assert tags["gradient_norm/01_block1_conv1"] == tags["dead_fraction/01_block1_conv1"] == {0, 1, 2}
    assert {"gradient_norm/04_predictions", "probe_loss/00_model"} <= set(tags)
