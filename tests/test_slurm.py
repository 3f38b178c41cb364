"""The workflow on a real single-node Slurm cluster, through profiles/slurm.

tests/slurm/cluster.sh brings the cluster up (root and Debian's Slurm packages
needed). In CI the tests fail, not skip, when it cannot start.
"""

import contextlib
import json
import os
import re
import shutil
import signal
import subprocess
import time
from datetime import datetime
from pathlib import Path

import pandas as pd
import pytest
import yaml
from conftest import LOCAL, REPO, workflow_command
from fakedata import serve, write_cifar10, write_fashion_mnist

CLUSTER = REPO / "tests" / "slurm" / "cluster.sh"
VARIANTS = ["fmnist_2conv_sigmoid", "cifar_6conv_relu"]
SEEDS = [1, 2]


@pytest.fixture(scope="module")
def slurm(tmp_path_factory):
    if os.geteuid() != 0 or not shutil.which("slurmctld"):
        if os.environ.get("CI"):
            pytest.fail("CI must run the Slurm tests: root and the Debian Slurm packages are needed")
        pytest.skip("needs root and Debian's munge, slurmctld, slurmd and slurm-client")
    state = tmp_path_factory.mktemp("slurm-state")
    env = os.environ | {"SLURM_TEST_STATE": str(state)}
    started = subprocess.run([str(CLUSTER), "start"], env=env, capture_output=True, text=True, timeout=120)
    assert started.returncode == 0, started.stdout + started.stderr
    yield env
    subprocess.run([str(CLUSTER), "stop"], env=env, timeout=60)


@pytest.fixture(scope="module")
def mirror(tmp_path_factory):
    root = tmp_path_factory.mktemp("mirror")
    files = {"fashion_mnist": write_fashion_mnist(root / "fashion_mnist"), "cifar10": write_cifar10(root / "cifar10")}
    with serve(root) as url:
        yield url, files


def workflow_config(work: Path, mirror, variants: dict, seeds=SEEDS) -> Path:
    url, files = mirror
    config = {
        "mirror": url,
        "seeds": seeds,
        "design": {"looks": []},  # one look: config.yaml's looks are for its 70 seeds
        "variants_to_train": list(variants),
        "datasets": {name: {"files": checksums} for name, checksums in files.items()},
        "variants": variants,
        "preflight": {"init_images": 40, "steps": 5},
        "diagnostics": {"probe_images": 32},
    }
    path = work / "test.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def on_slurm(work: Path, config: Path) -> list[str]:
    """The cluster run, with the default profile's --resources gpu=1, which must cap nothing on a cluster."""
    return workflow_command(
        work,
        config,
        "--profile",
        str(REPO / "profiles" / "slurm"),
        "--workflow-profile",
        str(REPO / "tests" / "slurm" / "profile"),
        "--resources",
        "gpu=1",
    )


def run(command, env, cwd: Path, timeout=600):
    # timeout -k: a status check that hangs must not hang the suite. The plugin keeps
    # its Slurm logs under the working directory it starts in.
    return subprocess.run(
        ["timeout", "-k", "10", str(timeout), *command], env=env, cwd=cwd, capture_output=True, text=True
    )


TINY = {name: {"epochs": 2, "batch_size": 64, "width": 0.25} for name in VARIANTS}


@pytest.fixture(scope="module")
def cluster_run(slurm, mirror, tmp_path_factory):
    work = tmp_path_factory.mktemp("on-slurm")
    result = run(on_slurm(work, workflow_config(work, mirror, TINY)), slurm, work)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-6000:]
    return work, result.stdout + result.stderr


def test_every_train_job_is_its_own_slurm_job(cluster_run):
    work, log = cluster_run
    submitted = re.findall(r"Job (\d+) has been submitted with SLURM jobid (\d+)", log)
    slurm_ids = {slurm_id for _, slurm_id in submitted}
    assert len(slurm_ids) == len(submitted) >= len(VARIANTS) * len(SEEDS) + len(VARIANTS)  # train + preflight
    train_logs = list((work / ".snakemake" / "slurm_logs" / "rule_train").rglob("*.log"))
    assert len(train_logs) == len(VARIANTS) * len(SEEDS)
    for path in train_logs:
        assert path.stem in slurm_ids


def test_gpu_jobs_respect_the_two_fake_gpus(cluster_run):
    work, log = cluster_run
    spans = []
    for variant in VARIANTS:
        for seed in SEEDS:
            metrics = json.loads((work / "results" / "runs" / variant / f"seed_{seed}" / "metrics.json").read_text())
            assert metrics["device"]["CUDA_VISIBLE_DEVICES"] in {"0", "1"}, "Slurm assigns each job one GPU"
            spans.append(
                (datetime.fromisoformat(metrics["started_at"]), datetime.fromisoformat(metrics["finished_at"]))
            )
    for start, _ in spans:
        assert sum(1 for s, e in spans if s <= start < e) <= 2, "Slurm runs at most two GPU jobs at once"
    # --resources gpu=1 was passed: a cap would submit one training job at a time, while a
    # variant's seeds become ready together, when its pre-flight ends.
    lines = log.splitlines()
    first_done = next(i for i, line in enumerate(lines) if "(Rule: train)" in line and "Finished jobid" in line)
    submitted = [line for line in lines[:first_done] if "submitted with SLURM jobid" in line and "rule_train" in line]
    assert len(submitted) >= len(SEEDS), "several training jobs were in Slurm's queue at once"


@pytest.fixture(scope="module")
def local_run(mirror, tmp_path_factory):
    work = tmp_path_factory.mktemp("local")
    result = run(
        workflow_command(work, workflow_config(work, mirror, TINY), *LOCAL),
        os.environ,
        work,
    )
    assert result.returncode == 0, result.stderr[-4000:]
    return work


def test_outputs_have_the_shape_of_a_local_run(cluster_run, local_run):
    work, _ = cluster_run

    def shape(root: Path) -> dict:
        found = {}
        for path in sorted((root / "results").rglob("*")):
            relative = path.relative_to(root / "results").as_posix()
            # TensorBoard names its event files by time, host and process
            relative = re.sub(r"events\.out\.tfevents\..*", "events.out.tfevents", relative)
            if path.is_file() and not relative.startswith(("logs/", "benchmarks/")):
                found[relative] = list(pd.read_csv(path).columns) if path.suffix == ".csv" else None
        return found

    assert shape(work) == shape(local_run)
    for variant in VARIANTS:
        for seed in SEEDS:
            history = pd.read_csv(work / "results" / "runs" / variant / f"seed_{seed}" / "history.csv")
            assert history["epoch"].tolist() == [1, 2]


RESUMABLE = {"cifar_12conv_relu_batchnorm": {"epochs": 8, "batch_size": 20, "width": 0.25}}


def train_until_checkpointed(work: Path, mirror, env, timeout: int) -> tuple[subprocess.Popen, list[str], Path]:
    """Start the study of RESUMABLE on the cluster and wait until its training has checkpointed epoch 2;
    return the running study, its command and the checkpoint's training_metadata.json."""
    command = on_slurm(work, workflow_config(work, mirror, RESUMABLE, seeds=[1]))
    study = subprocess.Popen(
        ["timeout", "-k", "10", str(timeout), *command],
        env=env,
        cwd=work,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    metadata = work / "results" / "checkpoints" / "cifar_12conv_relu_batchnorm" / "seed_1" / "training_metadata.json"
    deadline = time.monotonic() + 400
    while not (metadata.exists() and json.loads(metadata.read_text())["epoch"] >= 2):
        assert study.poll() is None, study.stdout.read()[-4000:]
        assert time.monotonic() < deadline, "no epoch was checkpointed in time"
        time.sleep(0.2)
    return study, command, metadata


def test_a_killed_training_job_resumes_from_its_checkpoint(slurm, mirror, tmp_path_factory):
    work = tmp_path_factory.mktemp("killed")
    first, command, metadata = train_until_checkpointed(work, mirror, slurm, timeout=600)
    jobs = subprocess.run(["squeue", "-h", "-o", "%i %k"], env=slurm, capture_output=True, text=True).stdout
    train_jobs = [line.split()[0] for line in jobs.splitlines() if "train" in line]
    assert len(train_jobs) == 1, jobs
    subprocess.run(["scancel", "--signal=KILL", train_jobs[0]], env=slurm, check=True)
    output, _ = first.communicate(timeout=300)
    assert first.returncode != 0, "the killed job must fail the first run"
    saved = json.loads(metadata.read_text())["epoch"]
    assert 2 <= saved < 8

    second = run(command, slurm, work)
    assert second.returncode == 0, second.stdout[-4000:] + second.stderr[-4000:]
    log = (work / "results" / "logs" / "train" / "cifar_12conv_relu_batchnorm" / "seed_1.log").read_text()
    assert f"resuming from the checkpoint of epoch {saved}" in log
    run_dir = work / "results" / "runs" / "cifar_12conv_relu_batchnorm" / "seed_1"
    assert pd.read_csv(run_dir / "history.csv")["epoch"].tolist() == list(range(1, 9))
    assert json.loads((run_dir / "metrics.json").read_text())["resumed_from_epoch"] == saved
    os.killpg(first.pid, signal.SIGTERM) if first.poll() is None else None


def lose_the_node() -> None:
    """Power the only node off: SIGKILL its slurmd and every process of its running jobs (slurmstepd and below)."""
    names, children = {}, {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError):
            text = stat.read_text()
            pid = int(stat.parent.name)
            names[pid] = text[text.index("(") + 1 : text.rindex(")")]
            children.setdefault(int(text.rsplit(")", 1)[1].split()[1]), []).append(pid)
    doomed = [pid for pid, name in names.items() if name in ("slurmd", "slurmstepd")]
    assert any(names[pid] == "slurmstepd" for pid in doomed), "no job step runs on the node"
    while doomed:
        pid = doomed.pop()
        doomed += children.get(pid, [])
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


def node_state(env) -> str:
    return subprocess.run(["sinfo", "-h", "-o", "%T"], env=env, capture_output=True, text=True).stdout.strip()


def test_a_lost_node_comes_back_and_its_training_job_is_requeued_and_resumes(slurm, mirror, tmp_path_factory):
    """Last in this module: it takes the cluster's node down and brings it back."""
    work = tmp_path_factory.mktemp("node-loss")
    study, _, metadata = train_until_checkpointed(work, mirror, slurm, timeout=900)
    lose_the_node()
    saved = json.loads(metadata.read_text())["epoch"]
    assert 2 <= saved < 8
    try:
        deadline = time.monotonic() + 120  # SlurmdTimeout (30 s) and a ping or two
        while not node_state(slurm).startswith("down"):
            assert time.monotonic() < deadline, f"the node was never marked down: {node_state(slurm)}"
            time.sleep(2)
    finally:
        host = subprocess.run(["hostname", "-s"], capture_output=True, text=True).stdout.strip()
        subprocess.run(["slurmd", "-N", host], stdin=subprocess.DEVNULL, env=slurm, check=True)
    output, _ = study.communicate(timeout=600)
    assert study.returncode == 0, output[-4000:]

    controller = (Path(slurm["SLURM_TEST_STATE"]) / "log" / "slurmctld.log").read_text()
    assert re.search(r"requeue job JobId=\d+ due to failure of node", controller), controller[-3000:]
    log = (work / "results" / "logs" / "train" / "cifar_12conv_relu_batchnorm" / "seed_1.log").read_text()
    assert f"resuming from the checkpoint of epoch {saved}" in log
    run_dir = work / "results" / "runs" / "cifar_12conv_relu_batchnorm" / "seed_1"
    assert pd.read_csv(run_dir / "history.csv")["epoch"].tolist() == list(range(1, 9))
    assert json.loads((run_dir / "metrics.json").read_text())["resumed_from_epoch"] == saved
