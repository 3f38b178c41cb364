"""One GPU per job: claims from a pool, released when a job ends or is killed, and the workflow using them."""

import json
import os
import signal
import subprocess
import sys
import threading
import time
from datetime import datetime
from pathlib import Path

import pytest
import yaml
from conftest import workflow_command
from fakedata import write_cifar10

from study.training.gpus import claim_gpu, gpu_pool, lock_dir, try_claim

HOLD = """
import sys, time
from pathlib import Path
from study.training.gpus import claim_gpu
print(claim_gpu(sys.argv[1].split(","), Path(sys.argv[2])), flush=True)
time.sleep(600)
"""


def test_the_pool_is_cuda_visible_devices_when_set():
    assert gpu_pool({"CUDA_VISIBLE_DEVICES": "0,1"}) == ["0", "1"]
    assert gpu_pool({"CUDA_VISIBLE_DEVICES": " 2, 3 "}) == ["2", "3"]
    assert gpu_pool({"CUDA_VISIBLE_DEVICES": ""}) == [] == gpu_pool({"CUDA_VISIBLE_DEVICES": "-1"})
    assert lock_dir({"STUDY_GPU_LOCK_DIR": "/x/locks"}) == Path("/x/locks")


def test_a_claim_is_exclusive_and_a_killed_holder_frees_it(tmp_path):
    holder = subprocess.Popen([sys.executable, "-c", HOLD, "0,1", str(tmp_path)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "0"
        assert (tmp_path / "gpu0.lock").read_text().strip() == str(holder.pid)
        assert not try_claim("0", tmp_path), "a held GPU is not claimed twice"
        assert claim_gpu(["0", "1"], tmp_path) == "1"
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
    assert claim_gpu(["0"], tmp_path, poll_seconds=0.05) == "0", "the kernel released the killed process's claim"


def test_an_empty_pool_claims_nothing(tmp_path):
    assert claim_gpu([], tmp_path) is None


def kill_first_training_job_on(gpu: str, locks: Path, killed: dict, stop: threading.Event):
    """SIGKILL the first training job that claims ``gpu``; note when."""
    while not stop.is_set():
        try:
            pid = int((locks / f"gpu{gpu}.lock").read_text().strip() or 0)
            command = Path(f"/proc/{pid}/cmdline").read_bytes().decode()
        except (OSError, ValueError):
            pid, command = 0, ""
        if pid and "train.py" in command:
            os.kill(pid, signal.SIGKILL)
            killed.update(pid=pid, at=datetime.now().astimezone())
            return
        time.sleep(0.05)


def test_jobs_on_a_two_gpu_pool_never_share_a_gpu_and_a_killed_jobs_gpu_is_reused(tmp_path):
    checksums = write_cifar10(tmp_path / "mirror" / "cifar10", n_train=200, n_val=40)
    tiny = {"dataset": "cifar10", "blocks": [[4]], "epochs": 2, "batch_size": 50}
    config = {
        "mirror": str(tmp_path / "mirror"),
        "seeds": [1, 2],
        "design": {"looks": []},  # one look: config.yaml's looks are for its 70 seeds
        "variants_to_train": ["tiny_a", "tiny_b"],
        "datasets": {"cifar10": {"files": checksums}},
        "variants": {"tiny_a": tiny, "tiny_b": tiny | {"activation": "sigmoid"}},
        "claims": [],
        "preflight": {"init_images": 20, "steps": 3},
        "diagnostics": {"probe_images": 20},
    }
    (tmp_path / "pool.yaml").write_text(yaml.safe_dump(config))
    locks = tmp_path / "locks"
    environment = os.environ | {"CUDA_VISIBLE_DEVICES": "0,1", "STUDY_GPU_LOCK_DIR": str(locks)}
    options = ["--cores", "2", "--resources", "gpu=2", "--set-threads", "train=1", "preflight=1", "--keep-going"]
    command = workflow_command(tmp_path, tmp_path / "pool.yaml", *options, "--", "results/tables/runs.csv")
    killed, stop = {}, threading.Event()
    killer = threading.Thread(target=kill_first_training_job_on, args=("0", locks, killed, stop))
    killer.start()
    try:
        first = subprocess.run(command, env=environment, capture_output=True, text=True, timeout=600)
    finally:
        stop.set()
        killer.join()
    assert killed, "a training job was killed"
    assert first.returncode != 0, "the killed job failed its first run"
    second = subprocess.run(command, env=environment, capture_output=True, text=True, timeout=600)
    assert second.returncode == 0, second.stderr[-3000:]

    runs = []
    for path in sorted((tmp_path / "results" / "runs").glob("*/seed_*/metrics.json")):
        m = json.loads(path.read_text())
        interval = (datetime.fromisoformat(m["started_at"]), datetime.fromisoformat(m["finished_at"]))
        runs.append((m["device"]["CUDA_VISIBLE_DEVICES"], *interval))
    assert len(runs) == 4
    assert {gpu for gpu, _, _ in runs} == {"0", "1"}, "both GPUs were used"
    for i, (gpu, start, end) in enumerate(runs):
        for other_gpu, other_start, other_end in runs[i + 1 :]:
            if start < other_end and other_start < end:
                assert gpu != other_gpu, "runs that overlap in time hold different GPUs"
    assert any(gpu == "0" and start > killed["at"] for gpu, start, _ in runs), "the killed job's GPU was claimed again"


@pytest.mark.parametrize(("script", "module"), [("train.py", "loop"), ("preflight.py", "preflight")])
def test_gpu_jobs_claim_their_gpu_before_tensorflow_loads(script, module):
    text = (Path(__file__).resolve().parents[1] / "workflow" / "scripts" / script).read_text()
    loads_tensorflow = text.index(f"    from study.training.{module} import")
    assert text.index("claim_job_gpu()") < text.index("configure_backend(") < loads_tensorflow
