"""A power cut at any moment: SIGKILL the whole study (Snakemake and its jobs) in every stage, recover the
way the README says, and end with exactly the numbers of a study that was never interrupted."""

import os
import queue
import random
import re
import signal
import subprocess
import threading
import time
from pathlib import Path

import pandas as pd
import pytest
import yaml
from conftest import LOCAL, run_locally, workflow_command
from fakedata import QuietHandler, serve, write_cifar10, write_fashion_mnist

from study.layout import tables

VARIANTS = ["fmnist_2conv_sigmoid", "cifar_12conv_relu_standardize"]
# Each stage is killed once, in DAG order: a random moment after a job of that rule starts, or, for
# training, the moment a checkpoint's first file lands (before its seal).
KILLS = [
    ("download", "rule download:", (0.0, 0.6)),
    ("prepare", "rule prepare:", (0.0, 1.5)),
    ("preflight", "rule preflight:", (0.5, 4.0)),
    ("train, during a checkpoint write", "checkpoints/**/training_metadata.json", (0.0, 0.0)),
    ("aggregate", "rule aggregate:", (0.0, 1.0)),
    ("report", "rule report:", (0.5, 4.0)),
]
# The 12-conv variant trains with an optimizer, schedule and activation from config, so a killed study
# recovers those to the same numbers too.
FROM_CONFIG = {
    "activation": "leaky_relu",
    "learning_rate": 0.02,
    "optimizer": {"name": "sgd", "momentum": 0.9, "warmup_steps": 2, "schedule": "cosine"},
}
TIMING_COLUMNS = {"seconds", "train_seconds", "seconds_per_epoch"}
TABLES = [table.file for table in tables() if table.suffix == "csv"]


class SlowHandler(QuietHandler):
    """Sends each file in two halves a moment apart, so that a kill can land mid-download."""

    def copyfile(self, source, outputfile):
        data = source.read()
        outputfile.write(data[: len(data) // 2])
        outputfile.flush()
        time.sleep(0.3)
        outputfile.write(data[len(data) // 2 :])


def study_config(url: str, files: dict) -> dict:
    return {
        "mirror": url,
        "seeds": [1],
        "design": {"looks": []},  # one look: config.yaml's looks are for its 70 seeds
        "variants_to_train": VARIANTS,
        "subset": {"train": 150, "val": 40},
        "datasets": {name: {"files": checksums} for name, checksums in files.items()},
        "variants": {name: {"epochs": 3, "batch_size": 64} for name in VARIANTS}
        | {VARIANTS[1]: {"epochs": 3, "batch_size": 64} | FROM_CONFIG},
        "preflight": {"init_images": 40, "steps": 15},
        "diagnostics": {"probe_images": 32, "step_interval": 1},
        "fix_ranking": {"baseline": VARIANTS[0], "variants": [VARIANTS[1]]},
    }


def start(work: Path, config: Path, *extra: str) -> tuple[subprocess.Popen, queue.Queue]:
    """The study in its own process group (so one signal reaches Snakemake and every job), its output lines
    arriving on a queue."""
    process = subprocess.Popen(
        workflow_command(work, config, *LOCAL, *extra),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    lines: queue.Queue = queue.Queue()
    threading.Thread(target=lambda: [lines.put(line) for line in process.stdout], daemon=True).start()
    return process, lines


def fired(trigger: str, output: str, results: Path) -> bool:
    if trigger.startswith("rule "):
        return re.search(rf"^(local)?{trigger}", output, re.MULTILINE) is not None
    return any(results.glob(trigger))


def run_and_kill(work: Path, config: Path, trigger: str, delay: float, *extra: str) -> str:
    """Start the study, wait for ``trigger``, wait ``delay`` s more, then SIGKILL the whole process group.
    Returns the output; fails if the study ended before the kill."""
    process, lines = start(work, config, *extra)
    output, deadline = "", time.monotonic() + 600
    while not fired(trigger, output, work / "results"):
        assert process.poll() is None or not lines.empty(), f"ended before {trigger!r}:\n{output[-3000:]}"
        assert time.monotonic() < deadline, f"{trigger!r} never came:\n{output[-3000:]}"
        try:
            output += lines.get(timeout=0.005)
        except queue.Empty:
            pass
    time.sleep(delay)
    assert process.poll() is None, f"ended within {delay:.2f} s of {trigger!r}:\n{output[-3000:]}"
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    return output


def unlock(work: Path) -> None:
    result = subprocess.run(workflow_command(work, work / "study.yaml", "--unlock"), capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-2000:]


def table(results: Path, name: str) -> pd.DataFrame:
    frame = pd.read_csv(results / "tables" / name)
    return frame.drop(columns=[c for c in frame.columns if c in TIMING_COLUMNS])


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    mirror = tmp_path_factory.mktemp("mirror")
    return mirror, {
        "fashion_mnist": write_fashion_mnist(mirror / "fashion_mnist"),
        "cifar10": write_cifar10(mirror / "cifar10"),
    }


def test_a_study_killed_in_every_stage_recovers_to_the_numbers_of_an_uninterrupted_one(tmp_path, data):
    mirror, files = data
    with serve(mirror) as url:
        straight = tmp_path / "straight"
        straight.mkdir()
        (straight / "study.yaml").write_text(yaml.safe_dump(study_config(url, files)))
        expected = run_locally(straight, straight / "study.yaml", timeout=900)

    rng = random.Random(int(os.environ.get("CHAOS_SEED", "12")))
    work = tmp_path / "killed"
    work.mkdir()
    with serve(mirror, SlowHandler) as url:
        (work / "study.yaml").write_text(yaml.safe_dump(study_config(url, files)))
        log = []
        for stage, trigger, (low, high) in KILLS:
            delay = rng.uniform(low, high)
            # the README's recovery after each kill: unlock, then rerun with --rerun-incomplete
            unlock(work)
            output = run_and_kill(work, work / "study.yaml", trigger, delay, "--rerun-incomplete")
            log.append(f"killed in {stage}, {delay:.2f} s after {trigger!r}")
            (work / f"killed-in-{stage.split(',')[0]}.out").write_text(output)
        unlock(work)
        final = subprocess.run(
            workflow_command(work, work / "study.yaml", *LOCAL, "--rerun-incomplete"),
            capture_output=True,
            text=True,
            timeout=900,
        )
    assert final.returncode == 0, "\n".join(log) + final.stdout[-3000:] + final.stderr[-3000:]

    results = work / "results"
    for name in TABLES:
        pd.testing.assert_frame_equal(table(results, name), table(expected, name), check_exact=True, obj=name)
    assert (results / "report.html").stat().st_size > 0
    leftovers = [p for p in results.rglob("*") if ".partial" in p.name or ".tmp" in p.name]
    assert not leftovers, leftovers
    assert not (results / "checkpoints").exists() or not any((results / "checkpoints").rglob("*.h5"))
