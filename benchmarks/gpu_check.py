"""The GPU check of the training path, run by benchmarks/gpu_check.sh (see there how to run it).

1. The device: `nvidia-smi -L` and what JAX sees.
2. Speed: the pipeline's training path (study.training.bench.throughput) on the four benchmark models under
   Keras' JAX backend, in float32 and bf16, with each process's GPU id and GPU memory.
3. One full 12-conv CIFAR-10 epoch (196 steps of 256).
4. A tiny study through Snakemake itself, with --resources gpu=1, on real CIFAR-10 rebuilt
   from the carried JPEG archive: one 12-conv run under JAX, whose job claims the GPU.
5. While the time budget lasts: the 12-conv family at the lecture's recipe (full training
   set, 10 epochs, seed 1) on that CIFAR-10, through study.training.loop.train_run, the train
   rule's entry point. Histories go to OUT/family/.

--cpu runs every step on this machine's CPU with tiny sizes, to check the script itself.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tarfile
import time
from pathlib import Path

import pandas as pd

from study.layout import Layout
from study.training.bench.throughput import MODELS, bench_specs, measure

FAMILY = [
    "cifar_12conv_relu",
    "cifar_12conv_relu_standardize",
    "cifar_12conv_relu_batchnorm",
    "cifar_12conv_relu_he",
    "cifar_12conv_relu_skip",
]


def device_report() -> None:
    if shutil.which("nvidia-smi"):
        listed = subprocess.run(["nvidia-smi", "-L"], capture_output=True, text=True, check=False)
        print("nvidia-smi -L:", listed.stdout.strip() or listed.stderr.strip(), flush=True)
    else:
        print("nvidia-smi: not found", flush=True)
    code = "import jax; print('JAX', jax.__version__, jax.devices())"
    print(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True).stdout.strip(), flush=True)


def speeds(args, specs: dict) -> pd.DataFrame:
    rows = []
    models = list(MODELS) if not args.cpu else ["fmnist_2conv", "cifar_2conv"]
    for precision in ("float32", "mixed_bfloat16"):
        for name in models:
            job = argparse.Namespace(
                steps=args.steps,
                warmup=min(5, args.steps - 1),
                out=args.out,
                training=json.dumps({"backend": "jax", "precision": precision}),
            )
            m = measure("pipeline", name, specs[name], job)
            rows.append({"model": name, "images_per_second": 256 / m["median_step_seconds"], **m})
            print(
                f"{name:13s} {precision:15s} {rows[-1]['images_per_second']:9.1f} img/s  device {m['device']}  "
                f"CUDA_VISIBLE_DEVICES {m['CUDA_VISIBLE_DEVICES']}  GPU peak {m['gpu_peak_mb'] or 0:.0f} MiB  "
                f"RSS peak {m['peak_rss_mb']:.0f} MB",
                flush=True,
            )
    return pd.DataFrame(rows).drop(columns=["step_seconds"])


def full_epoch(args, specs: dict) -> dict:
    steps = 196 if not args.cpu else 8
    job = argparse.Namespace(steps=steps, warmup=5, out=args.out, training=json.dumps({"backend": "jax"}))
    start = time.perf_counter()
    m = measure("pipeline", "cifar_12conv", specs["cifar_12conv"], job)
    print(
        f"one 12-conv CIFAR-10 epoch ({steps} steps of 256): {m['epoch_seconds']:.1f} s in fit, "
        f"{time.perf_counter() - start:.1f} s with the process; GPU peak {m['gpu_peak_mb'] or 0:.0f} MiB",
        flush=True,
    )
    return {"steps": steps, "epoch_seconds": m["epoch_seconds"]}


def real_cifar10(args) -> tuple[Path, Path]:
    """CIFAR-10 in the official binary layout, rebuilt from the carried JPEG archive (OUT/mirror), prepared
    with its channel statistics; returns the prepared folder and the statistics' path."""
    import numpy as np

    from study.data.prepare import prepare
    from study.data.stats import write_channel_stats

    mirror, data = args.out / "mirror" / "cifar10", args.out / "data"
    limit = ["--limit-per-class", "100"] if args.cpu else []
    builder = args.bundle / "make_cifar10_mirror.py"
    subprocess.run([sys.executable, str(builder), str(mirror), "--format", "binary", *limit], check=True)
    prepare("cifar10_binary", mirror, data)
    write_channel_stats(np.load(data / "train_images.npy", mmap_mode="r"), args.out / "stats.json", "cifar10")
    return data, args.out / "stats.json"


def snakemake_study(args) -> None:
    """One tiny 12-conv run under JAX through the real workflow, with --resources gpu=1."""
    import yaml

    from study.data.download import file_digest

    archive = args.out / "mirror" / "cifar10" / "cifar-10-binary.tar.gz"
    variant = "cifar_12conv_relu_he"
    layer = {
        "mirror": str((args.out / "mirror").resolve()),
        "datasets": {
            "cifar10": {
                "files": {
                    archive.name: {"algorithm": "sha256", "covers": "file", "value": file_digest(archive, "sha256")}
                }
            }
        },
        "seeds": [1],
        "variants_to_train": [variant],
        "subset": {"train": 200 if args.cpu else 5000, "val": 100 if args.cpu else 1000},
        "training": {"backend": "jax"},
        "variants": {variant: {"epochs": 1} | ({"width": 0.125} if args.cpu else {})},
        "preflight": {"init_images": 64, "steps": 5},
    }
    work = (args.out / "study").resolve()
    work.mkdir(parents=True, exist_ok=True)
    (work / "study.yaml").write_text(yaml.safe_dump(layer))
    target = Layout().run_file(variant, 1, "metrics.json")
    command = [sys.executable, "-m", "snakemake", "--snakefile", str(Path("Snakefile").resolve()), "--directory"]
    command += [str(work), "--configfile", str(Path("config/config.yaml").resolve()), str(work / "study.yaml")]
    command += ["--cores", "4", "--resources", "gpu=1", "--", target]
    start = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True)
    (args.out / "snakemake.log").write_text(done.stdout + done.stderr)
    if done.returncode:
        print(f"snakemake study: failed (OUT/snakemake.log)\n{done.stderr[-1500:]}", flush=True)
        return
    metrics = json.loads((work / target).read_text())
    print(
        f"snakemake study: {variant} trained through the workflow in {time.perf_counter() - start:.0f} s, "
        f"backend {metrics['run']['training']['backend']}, on {metrics['device']['type']} "
        f"{metrics['device']['name']}, CUDA_VISIBLE_DEVICES {metrics['device']['CUDA_VISIBLE_DEVICES']}",
        flush=True,
    )


def family(args, data: Path, stats: Path, seconds_per_epoch: float) -> list[dict]:
    """Train the 12-conv family while the budget allows another run of it (estimated from the epoch time)."""
    from study.config import load_config
    from study.training.run import Run

    config = load_config([Path("config/config.yaml")])
    config["training"] = config["training"] | {"backend": "jax"}
    if args.cpu:
        config["subset"] = {"train": 200, "val": 100}
    results = []
    for variant in FAMILY:
        spec = config["variants"][variant] | ({"epochs": 1, "width": 0.125} if args.cpu else {})
        # A full-size run's time from the epoch measured; --cpu's runs are tiny by construction.
        needed = 0 if args.cpu else seconds_per_epoch * spec["epochs"] * 1.3 + 30
        left = args.deadline - time.monotonic()
        if needed > left:
            print(f"{variant}: not started, about {needed:.0f} s needed and {left:.0f} s left", flush=True)
            continue
        run = Run.from_config(config | {"variants": config["variants"] | {variant: spec}}, variant, 1)
        out_dir = args.out / "family" / variant
        job = {"run": run.to_dict(), "data_dir": str(data), "stats_path": str(stats), "out_dir": str(out_dir)}
        done = subprocess.run(
            [sys.executable, "-m", "study.training.job", json.dumps(job)], capture_output=True, text=True
        )
        out_dir.mkdir(parents=True, exist_ok=True)
        (out_dir / "train.log").write_text(done.stdout + done.stderr)
        if done.returncode:
            print(f"{variant}: failed\n{done.stderr[-2000:]}", flush=True)
            continue
        result = json.loads(done.stdout.strip().splitlines()[-1])
        results.append(result)
        print(
            f"{variant}: train acc {result['final_train_accuracy']:.3f}, "
            f"val acc {result['final_val_accuracy']:.3f}, {result['wall_seconds']:.0f} s, "
            f"{result['images_per_second']:.0f} img/s",
            flush=True,
        )
    return results


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cpu", action="store_true", help="run every step on the CPU with tiny sizes")
    parser.add_argument("--out", type=Path, default=Path("results/gpu_check"))
    parser.add_argument("--bundle", type=Path, default=Path(".gpu_check"), help="the carried archive and builder")
    parser.add_argument("--budget-seconds", type=float, default=450)
    args = parser.parse_args(argv)
    args.deadline = time.monotonic() + args.budget_seconds
    args.steps = 40 if not args.cpu else 4
    args.out.mkdir(parents=True, exist_ok=True)
    device_report()
    specs = bench_specs(["config/config.yaml"])
    speeds(args, specs).to_csv(args.out / "speeds.csv", index=False)
    epoch = full_epoch(args, specs)
    (args.out / "epoch.json").write_text(json.dumps(epoch))
    archive = args.bundle / "cifar-10-jpeg.tar.gz"
    if not archive.exists() or not tarfile.is_tarfile(archive):
        print(f"no {archive}: the 12-conv family is not trained", flush=True)
        return
    data, stats = real_cifar10(args)
    snakemake_study(args)
    trained = family(args, data, stats, epoch["epoch_seconds"] / epoch["steps"] * 196)
    (args.out / "family.json").write_text(json.dumps(trained, indent=1))


if __name__ == "__main__":
    main()
