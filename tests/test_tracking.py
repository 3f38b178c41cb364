"""The study in MLflow, against a real tracking server (`mlflow server` on 127.0.0.1 with a SQLite store): every
training job is a run nested under the study's, with its params, its epoch metrics and its outcome; a server
that goes away mid-study costs warnings and nothing of the study's tables."""

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pandas as pd
import pytest
import yaml
from conftest import LOCAL, workflow_command
from fakedata import serve, write_fashion_mnist

from study.layout import tables
from study.tracking.mlflow_runs import claim_tag

VARIANT, SEEDS, EPOCHS = "fmnist_2conv_sigmoid", [1, 2], 2
TINY = {
    "seeds": SEEDS,
    "design": {"looks": []},  # one look: config.yaml's looks are for its 70 seeds
    "variants_to_train": [VARIANT],
    "subset": {"train": 150, "val": 40},
    "variants": {VARIANT: {"epochs": EPOCHS, "batch_size": 64}},
    "preflight": {"init_images": 40, "steps": 5},
    "diagnostics": {"probe_images": 32, "step_interval": 1},
}
MLFLOW = Path(sys.executable).parent / "mlflow"
TIMING_COLUMNS = {"seconds", "train_seconds", "seconds_per_epoch"}
CSV_TABLES = [table.file for table in tables() if table.suffix == "csv"]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start_server(folder: Path) -> tuple[subprocess.Popen, str]:
    """`mlflow server` on 127.0.0.1 with a SQLite store in ``folder``, up and answering; it stops by itself
    after 15 minutes if nothing stops it first."""
    port = free_port()
    store = [
        "--backend-store-uri",
        f"sqlite:///{folder / 'mlflow.db'}",
        "--artifacts-destination",
        str(folder / "files"),
    ]
    address = ["--host", "127.0.0.1", "--port", str(port), "--workers", "1"]
    command = ["timeout", "900", str(MLFLOW), "server", *address, *store]
    log = open(folder / "server.log", "w")  # noqa: SIM115 - the server writes to it until it stops
    server = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while True:
        assert server.poll() is None, (folder / "server.log").read_text()[-3000:]
        try:
            with urllib.request.urlopen(f"{url}/health", timeout=2) as answer:
                if answer.status == 200:
                    return server, url
        except OSError:
            assert time.monotonic() < deadline, "the MLflow server did not answer in 2 minutes"
            time.sleep(0.5)


def stop(server: subprocess.Popen) -> None:
    """Kill the server and all its workers at once, as a crash would."""
    if server.poll() is None:
        os.killpg(server.pid, signal.SIGKILL)
        server.wait()


@pytest.fixture(scope="module")
def mirror(tmp_path_factory):
    if not MLFLOW.exists():
        pytest.fail(f"{MLFLOW} is missing: mlflow is pinned in requirements.txt")
    root = tmp_path_factory.mktemp("mirror")
    files = {"fashion_mnist": write_fashion_mnist(root / "fashion_mnist")}
    with serve(root) as url:
        yield url, files


def study(work: Path, mirror, uri: str | None) -> list[str]:
    """The tiny study's command in ``work``: its tables and TensorBoard sessions, tracked at ``uri``."""
    url, files = mirror
    config = TINY | {
        "mirror": url,
        "datasets": {name: {"files": checksums} for name, checksums in files.items()},
        "tracking": {"mlflow": {"uri": uri, "experiment": "tiny", "timeout_seconds": 3}},
    }
    work.mkdir(parents=True, exist_ok=True)
    (work / "study.yaml").write_text(yaml.safe_dump(config))
    targets = [f"results/tables/{name}" for name in CSV_TABLES] + ["results/tensorboard"]
    return workflow_command(work, work / "study.yaml", *LOCAL, "--", *targets)


def run(command: list[str], cwd: Path) -> Path:
    result = subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-4000:]
    return cwd / "results"


def numbers(results: Path, name: str) -> pd.DataFrame:
    frame = pd.read_csv(results / "tables" / name)
    return frame.drop(columns=[c for c in frame.columns if c in TIMING_COLUMNS])


@pytest.fixture(scope="module")
def untracked(mirror, tmp_path_factory):
    work = tmp_path_factory.mktemp("untracked")
    return run(study(work, mirror, None), work)


@pytest.fixture(scope="module")
def tracked(mirror, tmp_path_factory):
    folder = tmp_path_factory.mktemp("tracked")
    server, url = start_server(folder)
    try:
        results = run(study(folder / "work", mirror, url), folder / "work")
        from mlflow.tracking import MlflowClient

        yield results, MlflowClient(url)
    finally:
        stop(server)


def job_runs(client, experiment: str = "tiny") -> list:
    found = client.get_experiment_by_name(experiment)
    return client.search_runs([found.experiment_id], filter_string="tags.kind = 'run'") if found else []


def test_every_training_job_is_an_mlflow_run_nested_under_the_study_with_its_params_metrics_and_outcome(tracked):
    results, client = tracked
    runs = job_runs(client)
    assert len(runs) == len(SEEDS), "one MLflow run per training job"
    judged = pd.read_csv(results / "tables" / "runs.csv").set_index("seed")
    (study_run,) = client.search_runs(runs[0].info.experiment_id, filter_string="tags.kind = 'study'")
    for run in runs:
        seed = int(run.data.tags["seed"])
        assert run.data.tags["variant"] == VARIANT and run.data.tags["mlflow.parentRunId"] == study_run.info.run_id
        assert run.data.params["learning_rate"] == "0.001" and run.data.params["seed"] == str(seed)
        assert run.info.status == "FINISHED"
        history = pd.read_csv(results / "runs" / VARIANT / f"seed_{seed}" / "history.csv")
        logged = sorted(client.get_metric_history(run.info.run_id, "val_accuracy"), key=lambda m: m.step)
        assert [m.step for m in logged] == history["epoch"].tolist()
        assert [m.value for m in logged] == pytest.approx(history["val_accuracy"].tolist())
        assert any(key.startswith("gradient_norm/") for key in run.data.metrics), "the diagnostics' scalars"
        assert (run.data.tags["outcome"], run.data.tags["cause"]) == (
            judged.loc[seed, "outcome"],
            judged.loc[seed, "cause"],
        )
    claims = pd.read_csv(results / "tables" / "claims.csv")
    for claim in claims.itertuples():
        assert study_run.data.tags[claim_tag(claim.claim)] == claim.verdict
    assert not client.list_artifacts(runs[0].info.run_id), "no model artifacts unless asked"


def test_tracking_changes_no_table(tracked, untracked):
    results, _ = tracked
    for name in CSV_TABLES:
        pd.testing.assert_frame_equal(numbers(results, name), numbers(untracked, name), check_exact=True, obj=name)


def test_a_server_that_goes_away_mid_study_costs_a_warning_in_each_affected_job_and_nothing_of_the_tables(
    mirror, untracked, tmp_path
):
    server, url = start_server(tmp_path)
    from mlflow.tracking import MlflowClient

    client = MlflowClient(url)
    command = study(tmp_path / "work", mirror, url)
    running = subprocess.Popen(
        command, cwd=tmp_path / "work", stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    try:
        deadline = time.monotonic() + 600
        # the first job's first epoch reached the server: it goes away there
        while not any("val_accuracy" in run.data.metrics for run in job_runs(client)):
            assert running.poll() is None, running.stdout.read()[-3000:]
            assert time.monotonic() < deadline, "no epoch reached the tracking server"
            time.sleep(0.5)
        stop(server)
        output, _ = running.communicate(timeout=900)
    finally:
        stop(server)
        if running.poll() is None:
            running.kill()
    assert running.returncode == 0, output[-4000:]
    results = tmp_path / "work" / "results"
    for name in CSV_TABLES:
        pd.testing.assert_frame_equal(numbers(results, name), numbers(untracked, name), check_exact=True, obj=name)
    # what the server held when it went away, read from its store: the jobs not finished there were cut off
    store = MlflowClient(f"sqlite:///{tmp_path / 'mlflow.db'}")
    finished = {int(run.data.tags["seed"]) for run in job_runs(store) if run.info.status == "FINISHED"}
    affected = [seed for seed in SEEDS if seed not in finished]
    assert affected, "the server went away before the last job ended"
    logs = results / "logs"
    for seed in SEEDS:
        warned = "WARNING: MLflow tracking at" in (logs / "train" / VARIANT / f"seed_{seed}.log").read_text()
        assert warned == (seed in affected), seed
    assert "WARNING: MLflow tracking at" in (logs / "tracking.log").read_text()


def test_an_hparams_session_reads_back_with_tensorboards_reader_and_the_same_run_writes_the_same_bytes(tmp_path):
    from trackers import hparams_sessions

    from study.tracking.hparams import write_session

    spec = {"dataset": "cifar10", "width": 0.25, "learning_rate": 0.001, "batch_size": 64, "epochs": 2}
    spec |= {"initializer": "he_normal", "batchnorm": False, "skip": True, "activation": "relu"}
    record = {
        "variant": "cifar_12conv_relu_skip",
        "seed": 3,
        "finished_at": "2026-12-05T08:00:00+00:00",
        "run": {"variant": "cifar_12conv_relu_skip", "seed": 3, "spec": spec}
        | {"training": {"precision": "float32", "backend": "jax"}},
        "outcome": "learns",
        "cause": "none sought (it learned)",
    } | {"final_train_accuracy": 0.5, "final_val_accuracy": 0.4, "final_train_loss": 1.2, "final_val_loss": 1.3}
    first = write_session(tmp_path, record).read_bytes()
    assert write_session(tmp_path, record).read_bytes() == first
    session = hparams_sessions(tmp_path)[("cifar_12conv_relu_skip", 3)]
    assert session["skip"] is True and session["backend"] == "jax" and session["outcome"] == "learns"
    assert session["final_val_accuracy"] == pytest.approx(0.4)
