import json

import numpy as np
import pandas as pd
import pytest
from fakedata import write_cifar10

from study.datasets import prepare
from study.stats import write_channel_stats
from study.train import HISTORY_COLUMNS, train_run


@pytest.fixture
def prepared(tmp_path):
    write_cifar10(tmp_path / "dl", n_train=100, n_test=30)
    prepare("cifar10_binary", tmp_path / "dl", tmp_path / "data", {})
    write_channel_stats(np.load(tmp_path / "data" / "train_images.npy"), tmp_path / "stats.json", "cifar10")
    return tmp_path


def run(prepared, spec, seed, name):
    return train_run(
        spec, prepared / "data", prepared / "stats.json", seed, prepared / name, variant="small", threads=1
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
    assert saved["settings"]["op_determinism"] is True
    assert saved["versions"]["tensorflow"] and saved["versions"]["keras"]
    assert set(saved["data"]["sources"]) == {"cifar-10-binary.tar.gz"}
    assert saved["spec"]["batchnorm"] is True and saved["train_images"] == 100
    assert saved["images_per_second"] > 0


def test_same_seed_repeats_exactly_and_another_seed_differs(prepared, small_spec):
    spec = small_spec | {"skip": True, "batchnorm": True}
    first = run(prepared, spec, 7, "first")
    second = run(prepared, spec, 7, "second")
    other = run(prepared, spec, 8, "other")
    columns = ["loss", "accuracy", "val_loss", "val_accuracy"]
    h1, h2, h3 = (pd.read_csv(prepared / name / "history.csv")[columns] for name in ("first", "second", "other"))
    pd.testing.assert_frame_equal(h1, h2, check_exact=True)
    assert not h1.equals(h3)
    assert first["final_train_loss"] == second["final_train_loss"] != other["final_train_loss"]
