"""A disk that fills up mid-study: the failing job says so plainly, nothing half-written looks complete,
and once space is freed a rerun completes."""

import contextlib
import os
import subprocess
from pathlib import Path

import pytest
import yaml
from conftest import LOCAL, workflow_command
from fakedata import serve, write_cifar10, write_fashion_mnist

VARIANTS = ["fmnist_2conv_sigmoid", "cifar_12conv_relu_standardize"]
RESULTS_MB = 64
LEFT_FREE = 256 * 1024  # room for logs and small tables, not for a model's weights


@contextlib.contextmanager
def small_filesystem(path: Path, megabytes: int):
    """A tmpfs of ``megabytes`` mounted at ``path`` for the block (root only)."""
    path.mkdir(parents=True)
    mount = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={megabytes}m", "tmpfs", str(path)], capture_output=True
    )
    if mount.returncode != 0:
        message = f"cannot mount a tmpfs here: {mount.stderr.decode().strip()}"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], check=False)


def fill(directory: Path, leave: int) -> Path:
    """Write a ballast file into ``directory`` until the filesystem is full, then give back ``leave`` bytes."""
    ballast = directory / "ballast"
    chunk = b"\0" * (1 << 20)
    with open(ballast, "wb", buffering=0) as out, contextlib.suppress(OSError):
        while True:
            out.write(chunk)
    os.truncate(ballast, max(0, ballast.stat().st_size - leave))
    return ballast


def test_a_full_disk_fails_the_job_plainly_and_a_rerun_completes_once_space_is_freed(tmp_path):
    mirror = tmp_path / "mirror"
    files = {
        "fashion_mnist": write_fashion_mnist(mirror / "fashion_mnist"),
        "cifar10": write_cifar10(mirror / "cifar10"),
    }
    work = tmp_path / "work"
    with small_filesystem(work / "results", RESULTS_MB) as results, serve(mirror) as url:
        config = {
            "mirror": url,
            "seeds": [1],
            "design": {"looks": []},  # one look: config.yaml's looks are for its 70 seeds
            "variants_to_train": VARIANTS,
            "subset": {"train": 150, "val": 40},
            "datasets": {name: {"files": checksums} for name, checksums in files.items()},
            "variants": {name: {"epochs": 2, "batch_size": 64, "width": 0.25} for name in VARIANTS},
            "preflight": {"init_images": 40, "steps": 15},
            "diagnostics": {"probe_images": 32},
        }
        (work / "study.yaml").write_text(yaml.safe_dump(config))
        study = workflow_command(work, work / "study.yaml", *LOCAL)
        # data and pre-flight checks first, with room to spare
        before = subprocess.run([*study, "--", *(f"results/preflight/{v}.json" for v in VARIANTS)], capture_output=True)
        assert before.returncode == 0, before.stderr[-3000:]

        ballast = fill(results, LEFT_FREE)
        full = subprocess.run(study, capture_output=True, text=True, timeout=900)
        assert full.returncode != 0
        output = full.stdout + full.stderr
        assert "No space left on device" in output, output[-3000:]
        runs = list((results / "runs").glob("*/seed_*"))
        assert not [run for run in runs if (run / "metrics.json").exists() or (run / "model.keras").exists()]
        assert not [p for p in results.rglob("*") if ".partial" in p.name]
        # the study's tables wait for its runs (a config without a map writes its empty map table up front)
        study_tables = ("summary.csv", "runs.csv", "claims.csv", "provenance.json")
        assert not any((results / "tables" / name).exists() for name in study_tables)
        assert not (results / "report.html").exists()

        ballast.unlink()
        rerun = subprocess.run(study, capture_output=True, text=True, timeout=900)
        assert rerun.returncode == 0, rerun.stdout[-2000:] + rerun.stderr[-3000:]
        assert (results / "report.html").stat().st_size > 0
        for variant in VARIANTS:
            assert (results / "runs" / variant / "seed_1" / "metrics.json").exists()
