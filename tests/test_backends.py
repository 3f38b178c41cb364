"""The training path on Keras' JAX backend as on TensorFlow: same outcomes, repeatable runs, a study end to end."""

import json
import subprocess

import pandas as pd
import pytest
import yaml
from conftest import SMALL_SPEC, job_command, judged, make_run, run_locally
from fakedata import prepared_cifar10, serve, write_cifar10
from trackers import curve_tags, hparams_sessions

LEARNING = {"learns", "overfits"}
LEARNS = SMALL_SPEC | {
    "blocks": [[8], [16]],
    "dense": [32],
    "normalization": "standardize",
    "initializer": "he_normal",
    "epochs": 3,
    "batch_size": 50,
    "learning_rate": 0.003,
}
STUCK = LEARNS | {"activation": "sigmoid", "blocks": [[8, 8], [16, 16], [16, 16]], "normalization": "scale01"}


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return prepared_cifar10(tmp_path_factory.mktemp("backends"), n_train=400, n_val=60)


def train(data, spec, backend: str, name: str) -> dict:
    run = make_run(spec, 1, training={"backend": backend, "precision": "float32", "steps_per_execution": 1})
    result = subprocess.run(job_command(run, data, name), capture_output=True, text=True)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-4000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize(("spec", "learns"), [(LEARNS, True), (STUCK, False)], ids=["learns", "stuck"])
def test_both_backends_agree_on_whether_a_net_learns(data, spec, learns):
    outcomes = {}
    for backend in ("tensorflow", "jax"):
        train(data, spec, backend, f"{backend}-{learns}")
        outcomes[backend] = judged(data / f"{backend}-{learns}")["outcome"]
    assert {outcome in LEARNING for outcome in outcomes.values()} == {learns}, outcomes


def test_a_jax_run_repeats_exactly_and_records_its_backend(data):
    first = train(data, LEARNS, "jax", "jax-a")
    second = train(data, LEARNS, "jax", "jax-b")
    columns = ["running_loss", "running_accuracy", "train_loss", "train_accuracy", "val_loss", "val_accuracy"]
    histories = [pd.read_csv(data / name / "history.csv")[columns] for name in ("jax-a", "jax-b")]
    pd.testing.assert_frame_equal(*histories, check_exact=True)
    assert first["versions"]["jax"] and "tensorflow" not in first["versions"]
    metrics = json.loads((data / "jax-a" / "metrics.json").read_text())
    assert metrics["run"]["training"]["backend"] == "jax"
    diagnostics = pd.read_csv(data / "jax-a" / "diagnostics.csv")
    assert set(diagnostics["statistic"]) >= {"gradient_norm", "update_ratio", "dead_fraction", "probe_loss"}
    assert second["final_train_accuracy"] == first["final_train_accuracy"]


def test_a_tiny_study_runs_end_to_end_on_jax(tmp_path):
    mirror = tmp_path / "mirror"
    checksums = write_cifar10(mirror / "cifar10", n_train=200, n_val=40)
    with serve(mirror) as url:
        config = {
            "mirror": url,
            "seeds": [1],
            "design": {"looks": []},  # one look: config.yaml's looks are for its 70 seeds
            "variants_to_train": ["cifar_12conv_relu_skip"],
            "subset": {"train": 100, "val": 40},
            "training": {"backend": "jax"},
            "datasets": {"cifar10": {"files": checksums}},
            "variants": {"cifar_12conv_relu_skip": {"epochs": 1, "batch_size": 50, "width": 0.125}},
            "preflight": {"init_images": 20, "steps": 3},
            "diagnostics": {"probe_images": 20},
        }
        (tmp_path / "jax.yaml").write_text(yaml.safe_dump(config))
        results = run_locally(tmp_path, tmp_path / "jax.yaml", timeout=600)
    metrics = json.loads((results / "runs" / "cifar_12conv_relu_skip" / "seed_1" / "metrics.json").read_text())
    assert metrics["run"]["training"]["backend"] == "jax" and "jax" in metrics["versions"]
    provenance = json.loads((results / "tables" / "provenance.json").read_text())
    assert provenance["training"][0]["backend"] == "jax"
    assert (results / "report.html").stat().st_size > 0
    # TensorBoard under JAX: the run's curves, and its HParams session with its outcome
    assert {"train/epoch_loss", "validation/epoch_accuracy"} <= curve_tags(
        results / "runs" / "cifar_12conv_relu_skip" / "seed_1"
    )
    session = hparams_sessions(results / "tensorboard")[("cifar_12conv_relu_skip", 1)]
    runs = pd.read_csv(results / "tables" / "runs.csv")
    assert session["backend"] == "jax" and session["skip"] is True and session["width"] == 0.125
    assert (session["outcome"], session["cause"]) == (runs.loc[0, "outcome"], runs.loc[0, "cause"])
    assert session["final_val_accuracy"] == pytest.approx(metrics["final_val_accuracy"])
