"""Training throughput and memory: the lecture's way against the pipeline's training path.

    python -m study.bench [--models ...] [--steps 12] [--rounds 3] [--out results/bench]

Each measurement runs in its own process (TensorFlow reads its settings once,
at import, and peak memory is per process), interleaved A B A B ... so that
drift of a noisy machine hits both sides alike. Per-step times drop the
warm-up steps; the table shows medians and the ratio pipeline / lecture with
its spread over rounds.

- lecture: the lecture's script: the dataset loaded into memory, ``x / 255.0``
  float64 arrays of all of it into ``model.fit(batch_size=256)``, TensorFlow's
  default settings (float32).
- pipeline: what the train rule runs: the memory-mapped uint8 split fed
  through ``study.train.make_dataset``, scaling inside the model, the study's
  settings (op determinism, the precision chosen for this device).

Both read the same random images of the dataset's size, written once to
OUT/data. Peak memory is each process's peak RSS; the table also gives the
ratio above the floor of a process that only imports TensorFlow and Keras.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

PROCESS_START = time.perf_counter()

# The four models of the benchmark, as variant specs (the same builder as the study).
MODELS = {
    "fmnist_2conv": {
        "input": (28, 28, 1),
        "images": 60000,
        "blocks": [[64], [128]],
        "activation": "sigmoid",
        "dense": [],
    },
    "cifar_2conv": {
        "input": (32, 32, 3),
        "images": 50000,
        "blocks": [[64], [128]],
        "activation": "sigmoid",
        "dense": [],
    },
    "cifar_6conv": {
        "input": (32, 32, 3),
        "images": 50000,
        "blocks": [[64, 64], [128, 128], [256, 256]],
        "activation": "relu",
        "dense": [512],
    },
    "cifar_12conv": {
        "input": (32, 32, 3),
        "images": 50000,
        "blocks": [[64] * 3, [128] * 3, [256] * 3, [512] * 3],
        "activation": "relu",
        "dense": [512],
    },
}
BATCH = 256
SPEC_DEFAULTS = {
    "normalization": "scale01",
    "batchnorm": False,
    "initializer": "glorot_uniform",
    "skip": False,
    "width": 1.0,
}


def forward_flops_per_image(model) -> int:
    """Multiply-adds x 2 of every Conv2D and Dense layer for one image."""
    import keras

    flops = 0
    for layer in model.layers:
        if isinstance(layer, keras.layers.Conv2D):
            _, h, w, c_out = layer.output.shape
            kh, kw, c_in, _ = layer.kernel.shape
            flops += 2 * h * w * kh * kw * c_in * c_out
        elif isinstance(layer, keras.layers.Dense):
            c_in, c_out = layer.kernel.shape
            flops += 2 * c_in * c_out
    return flops


def cpu_peak_gflops() -> tuple[float, str]:
    """fp32 peak: cores x FMA units x SIMD lanes x 2 x clock, read from /proc/cpuinfo.

    Two FMA units per core is assumed (true of current server cores with AVX-512
    or AVX2); the lanes come from the widest vector extension the CPU reports.
    """
    from study.runtime import cpu_flags

    info = Path("/proc/cpuinfo").read_text()
    flags = cpu_flags()
    lanes = 16 if "avx512f" in flags else 8 if "avx2" in flags else 4
    mhz = max(float(m) for m in re.findall(r"^cpu MHz\s*:\s*([\d.]+)", info, re.MULTILINE))
    cores = os.cpu_count()
    fma_units = 2
    peak = cores * fma_units * lanes * 2 * mhz / 1000
    return peak, f"{cores} cores x {fma_units} FMA x {lanes} fp32 lanes x 2 x {mhz / 1000:.2f} GHz"


def lecture_model(config: dict):
    """The model as the lecture's scripts write it: Sequential, float inputs, no scaling layer."""
    import keras

    model = keras.Sequential([keras.Input(shape=config["input"])])
    for block in config["blocks"]:
        for filters in block:
            model.add(keras.layers.Conv2D(filters, (3, 3), strides=1, padding="same", activation=config["activation"]))
        model.add(keras.layers.MaxPooling2D(2))
    model.add(keras.layers.Flatten())
    for units in config["dense"]:
        model.add(keras.layers.Dense(units, activation=config["activation"]))
    model.add(keras.layers.Dense(10, activation="softmax"))
    return model


def write_bench_data(name: str, data_dir: Path) -> Path:
    """Random uint8 images of the model's dataset size, stored as a prepared split (train_*.npy)."""
    import numpy as np

    config = MODELS[name]
    data_dir = data_dir / name
    if not (data_dir / "train_labels.npy").exists():
        data_dir.mkdir(parents=True, exist_ok=True)
        rng = np.random.default_rng(0)
        np.save(data_dir / "train_images.npy", rng.integers(0, 256, (config["images"], *config["input"]), np.uint8))
        np.save(data_dir / "train_labels.npy", rng.integers(0, 10, config["images"]).astype(np.uint8))
    return data_dir


def framework_floor_mb() -> float:
    """Peak RSS of a process that imports TensorFlow and Keras and runs one op: memory no training job can shed."""
    code = (
        "import resource, keras, tensorflow as tf; tf.constant(1.0) + 1; "
        "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return float(result.stdout.strip().splitlines()[-1])


def worker(mode: str, name: str, steps: int, warmup: int, data_dir: Path, speed: dict | None = None) -> dict:
    """One measurement, in this process: per-step seconds, peak RSS, time to the first step.

    ``speed`` (pipeline only): the config's `training` settings to measure; by
    default the train rule's, precision chosen for this device.
    """
    if mode == "pipeline":
        from study.runtime import configure_tensorflow

        configure_tensorflow()
    import keras
    import numpy as np

    config = MODELS[name]
    keras.utils.set_random_seed(0)

    class StepTimer(keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.times, self.first_step = [], None

        def on_train_batch_begin(self, batch, logs=None):
            if self.first_step is None:
                self.first_step = time.perf_counter() - PROCESS_START
            self._t = time.perf_counter()

        def on_train_batch_end(self, batch, logs=None):
            self.times.append(time.perf_counter() - self._t)

    timer = StepTimer()
    if mode == "lecture":
        # The lecture's own loading and preprocessing: the dataset in memory, as
        # keras.datasets returns it, then a float64 copy of everything, scaled.
        images, labels = np.load(data_dir / "train_images.npy"), np.load(data_dir / "train_labels.npy")
        x = images / 255.0
        model = lecture_model(config)
        model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
        epoch_start = time.perf_counter()
        model.fit(x, labels, batch_size=BATCH, epochs=1, steps_per_epoch=steps, verbose=0, callbacks=[timer])
        epoch_seconds = time.perf_counter() - epoch_start
    else:
        import tensorflow as tf

        from study.datasets import load_split
        from study.models import build_model
        from study.train import describe_device, make_dataset, resolve_speed

        tf.config.experimental.enable_op_determinism()
        device = describe_device()
        speed = resolve_speed(speed, device)
        images, labels = load_split(data_dir, "train")
        spec = SPEC_DEFAULTS | {k: config[k] for k in ("blocks", "activation", "dense")}
        model = build_model(spec, config["input"], precision=speed["precision"])
        model.compile(
            optimizer="adam",
            loss="sparse_categorical_crossentropy",
            metrics=["accuracy"],
            steps_per_execution=speed["steps_per_execution"],
        )
        data = make_dataset(images, labels, BATCH, seed=0)
        epoch_start = time.perf_counter()
        model.fit(data, epochs=1, steps_per_epoch=steps, verbose=0, callbacks=[timer])
        epoch_seconds = time.perf_counter() - epoch_start
        # Read the rest of the epoch's batches (untrained) so that the peak memory
        # counts every image of the memory-mapped split, as a full epoch does.
        for _ in make_dataset(images, labels, BATCH, seed=0).skip(steps):
            pass
    # With steps_per_execution > 1 each timed "step" is a group of steps.
    group = speed["steps_per_execution"] if mode == "pipeline" else 1
    measured = [t / group for t in timer.times[warmup:]]
    if not measured:
        raise ValueError(f"no step left to time: {len(timer.times)} timed, {warmup} dropped as warm-up")
    return {
        "mode": mode,
        "model": name,
        "step_seconds": measured,
        "median_step_seconds": statistics.median(measured),
        "epoch_seconds": epoch_seconds,
        "sum_step_seconds": sum(timer.times),
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "seconds_to_first_step": timer.first_step,
        "forward_flops_per_image": forward_flops_per_image(model),
        "onednn": os.environ.get("TF_ENABLE_ONEDNN_OPTS", "default"),
        "device": device["name"] if mode == "pipeline" else "",
        **(speed if mode == "pipeline" else {}),
    }


LECTURE_EPOCHS = {"fmnist_2conv": 20, "cifar_2conv": 50, "cifar_6conv": 50, "cifar_12conv": 10}


def diagnostics_cost(name: str, steps: int, records: int = 3) -> dict:
    """Seconds of one training step and of one diagnostics record (probe batch 256), in this process.

    The diagnostics share of a lecture run follows: (epochs + 1) records against
    epochs x steps-per-epoch training steps.
    """
    from study.runtime import configure_tensorflow

    configure_tensorflow()
    import keras
    import numpy as np
    import tensorflow as tf

    from study.diagnostics import TrainingDiagnostics
    from study.models import build_model
    from study.train import describe_device, make_dataset, resolve_speed

    config = MODELS[name]
    tf.config.experimental.enable_op_determinism()
    precision = resolve_speed({}, describe_device())["precision"]
    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, size=(steps * BATCH, *config["input"]), dtype=np.uint8)
    labels = rng.integers(0, 10, size=len(images)).astype(np.uint8)
    spec = SPEC_DEFAULTS | {k: config[k] for k in ("blocks", "activation", "dense")}
    model = build_model(spec, config["input"], precision=precision)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(make_dataset(images, labels, BATCH, seed=0), epochs=1, steps_per_epoch=2, verbose=0)  # warm-up
    start = time.perf_counter()
    model.fit(make_dataset(images, labels, BATCH, seed=1), epochs=1, steps_per_epoch=steps, verbose=0)
    step = (time.perf_counter() - start) / steps
    diagnostics = TrainingDiagnostics(images[:BATCH], labels[:BATCH])
    diagnostics.set_model(model)
    diagnostics.record(0)  # warm-up (traces the probe model)
    start = time.perf_counter()
    for epoch in range(1, records + 1):
        diagnostics.record(epoch)
    record = (time.perf_counter() - start) / records
    epochs, steps_per_epoch = LECTURE_EPOCHS[name], -(-config["images"] // BATCH)
    return {
        "model": name,
        "precision": precision,
        "step_seconds": step,
        "record_seconds": record,
        "lecture_epochs": epochs,
        "lecture_steps_per_epoch": steps_per_epoch,
        "lecture_share_percent": 100 * record * (epochs + 1) / (step * steps_per_epoch * epochs),
    }


def measure(mode: str, name: str, steps: int, warmup: int, data_dir: Path, speed: dict | None = None) -> dict:
    env = {k: v for k, v in os.environ.items() if k != "TF_ENABLE_ONEDNN_OPTS"}
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "study.bench",
            "--worker",
            mode,
            name,
            "--steps",
            str(steps),
            "--warmup",
            str(warmup),
            "--speed",
            json.dumps(speed or {}),
            "--data-dir",
            str(data_dir),
        ],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    if result.returncode:
        raise RuntimeError(f"{mode} {name} failed:\n{result.stderr[-3000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=list(MODELS), choices=list(MODELS))
    parser.add_argument("--steps", type=int, default=12, help="training steps per measurement")
    parser.add_argument("--warmup", type=int, default=3, help="first steps dropped from the timings")
    parser.add_argument("--rounds", type=int, default=2, help="A B pairs per model")
    parser.add_argument("--out", type=Path, default=Path("results/bench"))
    parser.add_argument(
        "--pipeline-only", action="store_true", help="measure only the pipeline's training path (the GPU check)"
    )
    parser.add_argument(
        "--speed",
        default="{}",
        help='training settings for the pipeline, as JSON: {"precision": "mixed_bfloat16", "steps_per_execution": 8}',
    )
    parser.add_argument(
        "--diagnostics-cost",
        action="store_true",
        help="measure the diagnostics callback against training steps, projected to the lecture's runs",
    )
    parser.add_argument("--worker", nargs=2, metavar=("MODE", "MODEL"), help=argparse.SUPPRESS)
    parser.add_argument("--data-dir", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    speed = json.loads(args.speed)
    if args.diagnostics_cost:
        import pandas as pd

        table = pd.DataFrame([diagnostics_cost(name, args.steps) for name in args.models])
        args.out.mkdir(parents=True, exist_ok=True)
        table.to_csv(args.out / "diagnostics_cost.csv", index=False)
        print(table.to_string(index=False, float_format=lambda v: f"{v:.3f}"))
        return
    if args.worker:
        print(json.dumps(worker(*args.worker, args.steps, args.warmup, args.data_dir, speed)))
        return
    if args.pipeline_only:
        for name in args.models:
            m = measure("pipeline", name, args.steps, args.warmup, write_bench_data(name, args.out / "data"), speed)
            print(
                f"{name:13s} {BATCH / m['median_step_seconds']:9.1f} img/s  {m['epoch_seconds']:7.2f} s for "
                f"{args.steps} steps  peak {m['peak_rss_mb']:.0f} MB  device {m['device']}  "
                f"{m['precision']} steps/exec {m['steps_per_execution']}",
                flush=True,
            )
        return

    import pandas as pd

    peak, peak_formula = cpu_peak_gflops()
    floor = framework_floor_mb()
    rows = []
    for name in args.models:
        for round_ in range(1, args.rounds + 1):
            for mode in ("lecture", "pipeline"):
                m = measure(mode, name, args.steps, args.warmup, write_bench_data(name, args.out / "data"), speed)
                m["round"] = round_
                rows.append(m)
                print(
                    f"  {name:13s} round {round_} {mode:8s} {BATCH / m['median_step_seconds']:8.1f} img/s "
                    f"peak {m['peak_rss_mb']:7.0f} MB",
                    flush=True,
                )
    raw = pd.DataFrame(rows)
    raw["images_per_second"] = BATCH / raw["median_step_seconds"]
    raw["gflops"] = 3 * raw["forward_flops_per_image"] * raw["images_per_second"] / 1e9
    table = []
    for name, part in raw.groupby("model", sort=False):
        lecture = part[part["mode"] == "lecture"].set_index("round")
        pipeline = part[part["mode"] == "pipeline"].set_index("round")
        ratios = pipeline["images_per_second"] / lecture["images_per_second"]
        table.append(
            {
                "model": name,
                "pipeline precision": pipeline["precision"].iloc[0],
                "lecture img/s": lecture["images_per_second"].median(),
                "pipeline img/s": pipeline["images_per_second"].median(),
                "ratio": ratios.median(),
                "ratio min-max": f"{ratios.min():.2f}-{ratios.max():.2f}",
                "pipeline GFLOP/s": pipeline["gflops"].median(),
                "% of fp32 peak": 100 * pipeline["gflops"].median() / peak,
                "lecture peak MB": lecture["peak_rss_mb"].max(),
                "pipeline peak MB": pipeline["peak_rss_mb"].max(),
                "memory ratio": pipeline["peak_rss_mb"].max() / lecture["peak_rss_mb"].max(),
                "memory ratio above framework": (pipeline["peak_rss_mb"].max() - floor)
                / (lecture["peak_rss_mb"].max() - floor),
                "pipeline s to 1st step": pipeline["seconds_to_first_step"].median(),
                "pipeline epoch / sum of steps": (pipeline["epoch_seconds"] / pipeline["sum_step_seconds"]).median(),
            }
        )
    table = pd.DataFrame(table)
    args.out.mkdir(parents=True, exist_ok=True)
    raw.drop(columns=["step_seconds"]).to_csv(args.out / "measurements.csv", index=False)
    table.to_csv(args.out / "summary.csv", index=False)
    print(
        f"\nfp32 peak {peak:.0f} GFLOP/s ({peak_formula}); batch {BATCH}, {args.steps} steps, "
        f"{args.warmup} warm-up dropped, {args.rounds} rounds; TensorFlow + Keras alone: {floor:.0f} MB\n"
    )
    print(table.to_string(index=False, float_format=lambda v: f"{v:.2f}"))


if __name__ == "__main__":
    main()
