"""One GPU per job on a workstation.

Each GPU job (pre-flight and training) claims one GPU id from the pool before
TensorFlow or JAX is imported, and makes it the only one the job sees. A claim
is an exclusive `fcntl` lock on a file per id, held for the life of the job's
process: the kernel releases it when the job ends, however it ends, SIGKILL
included. Under Slurm the job keeps the GPU Slurm assigned it.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

LOCK_DIR_VARIABLE = "STUDY_GPU_LOCK_DIR"
_held: list = []  # the open lock files of this process's claims: closing one releases it


def gpu_pool(environ=os.environ) -> list[str]:
    """The GPU ids jobs may claim: CUDA_VISIBLE_DEVICES when set, else what `nvidia-smi -L` lists, else none."""
    visible = environ.get("CUDA_VISIBLE_DEVICES")
    if visible is not None:
        return [gpu.strip() for gpu in visible.split(",") if gpu.strip() not in ("", "-1")]
    if not shutil.which("nvidia-smi"):
        return []
    listed = subprocess.run(["nvidia-smi", "-L"], capture_output=True, text=True, check=False)
    return [str(i) for i, line in enumerate(listed.stdout.splitlines()) if line.startswith("GPU ")]


def lock_dir(environ=os.environ) -> Path:
    """Where the claims live: one folder per user, shared by every study on the machine."""
    return Path(environ.get(LOCK_DIR_VARIABLE) or Path(tempfile.gettempdir()) / f"study-gpu-locks-{os.getuid()}")


def try_claim(gpu: str, directory: Path) -> bool:
    """Claim ``gpu`` for this process unless another process holds it; the lock file records our PID."""
    directory.mkdir(parents=True, exist_ok=True)
    handle = open(directory / f"gpu{gpu}.lock", "a+")  # held open for the life of the process
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.close()
        return False
    handle.truncate(0)
    handle.write(f"{os.getpid()}\n")
    handle.flush()
    _held.append(handle)
    return True


def claim_gpu(pool: list[str], directory: Path, poll_seconds: float = 1.0) -> str | None:
    """The first id of ``pool`` no other process holds, waiting for one to free up; None for an empty pool."""
    if not pool:
        return None
    waiting = False
    while True:
        for gpu in pool:
            if try_claim(gpu, directory):
                return gpu
        if not waiting:
            print(f"waiting for one of GPUs {','.join(pool)} to be free (claims in {directory})", flush=True)
            waiting = True
        time.sleep(poll_seconds)


def claim_job_gpu(environ=os.environ) -> str | None:
    """Give this job one GPU: claim it and make it the only visible one. Call before TensorFlow or JAX loads.

    Returns the id the job sees through CUDA_VISIBLE_DEVICES (None: no GPU, the job runs on the CPU).
    """
    if "SLURM_JOB_ID" in environ:
        print(f"Slurm assigned GPU(s) {environ.get('CUDA_VISIBLE_DEVICES')}", flush=True)
        return environ.get("CUDA_VISIBLE_DEVICES")
    if {"tensorflow", "jax"} & set(sys.modules):
        raise RuntimeError("claim_job_gpu() must run before TensorFlow or JAX is imported")
    gpu = claim_gpu(gpu_pool(environ), lock_dir(environ))
    if gpu is not None:
        environ["CUDA_VISIBLE_DEVICES"] = gpu
        print(f"claimed GPU {gpu}", flush=True)
    return gpu
