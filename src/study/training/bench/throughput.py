"""Training throughput and memory: the lecture's way against the pipeline's training path.

    python -m study.training.bench.throughput [--models ...] [--steps 12] [--rounds 3] [--out results/bench]

Each measurement runs in its own process (TensorFlow reads its settings once,
at import, and peak memory is per process), interleaved A B A B ... so that
drift of a noisy machine hits both sides alike. Per-step times drop the
warm-up steps; the table shows medians and the ratio pipeline / lecture with
its spread over rounds.

- lecture: the lecture's script: the dataset loaded into memory, ``x / 255.0``
  float64 arrays of all of it into ``model.fit(batch_size=256)``, TensorFlow's
  default settings (float32).
- pipeline: what the train rule runs: the memory-mapped uint8 split fed
  through ``study.training.feeding.make_dataset``, scaling inside the model, the study's
  settings (op determinism, the precision chosen for this device).

Both read the same random images of the dataset's size, written once to
OUT/data. Peak memory is each process's peak RSS; the table also gives the
ratio above the floor of a process that only imports TensorFlow and Keras.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

from study.data.formats import FORMATS
from study.specs import forward_flops
from study.training.bench.peak import sgemm_peak_gflops

PROCESS_START = time.perf_counter()

# The four models of the benchmark: which variant of the config each one is, and the image
# shape, training images and classes of its dataset's official files (filled with random images).
MODELS = {
    name: {
        "variant": variant,
        "input": typical.shape,
        "images": typical.train_images,
        "classes": typical.classes,
    }
    for name, variant, typical in (
        ("fmnist_2conv", "fmnist_2conv_sigmoid", FORMATS["idx"]),
        ("cifar_2conv", "cifar_2conv_sigmoid", FORMATS["cifar10_binary"]),
        ("cifar_6conv", "cifar_6conv_relu", FORMATS["cifar10_binary"]),
        ("cifar_12conv", "cifar_12conv_relu", FORMATS["cifar10_binary"]),
    )
}
BATCH = 256


def bench_specs(config_paths: list[str]) -> dict[str, dict]:
    """Each benchmark model's variant spec, from the config the study runs (schema defaults filled in)."""
    from study.config import load_config

    variants = load_config(config_paths)["variants"]
    return {name: variants[model["variant"]] for name, model in MODELS.items()}


def lecture_model(spec: dict, input_shape: tuple[int, ...], classes: int):
    """The variant's model as the lecture feeds it: float inputs it scaled itself, no scaling layer; the same
    builder as the pipeline's (study.training.models.build_model)."""
    from study.training.models import build_model

    return build_model(spec, input_shape, classes=classes, name="lecture", pixels="scaled")


def write_bench_data(name: str, data_dir: Path) -> Path:
    """Random uint8 images of the model's dataset size, stored as a prepared split (train_*.npy, and a
    meta.json with their checksums)."""
    import numpy as np

    from study.data.download import file_digest

    config = MODELS[name]
    data_dir = data_dir / name
    if not (data_dir / "meta.json").exists():
        data_dir.mkdir(parents=True, exist_ok=True)
        rng = np.random.default_rng(0)
        np.save(data_dir / "train_images.npy", rng.integers(0, 256, (config["images"], *config["input"]), np.uint8))
        np.save(data_dir / "train_labels.npy", rng.integers(0, config["classes"], config["images"]).astype(np.uint8))
        arrays = {
            f"train_{kind}.npy": file_digest(data_dir / f"train_{kind}.npy", "sha256") for kind in ("images", "labels")
        }
        (data_dir / "meta.json").write_text(json.dumps({"arrays": arrays}))
    return data_dir


def framework_floor_mb() -> float:
    """Peak RSS of a process that imports TensorFlow and Keras and runs one op: memory no training job can shed."""
    code = (
        "import resource, keras, tensorflow as tf; tf.constant(1.0) + 1; "
        "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return float(result.stdout.strip().splitlines()[-1])


def step_timer():
    """A Keras callback timing each training step, and when the first one began (Keras is imported late)."""
    import keras

    class Timer(keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.times, self.first_step = [], None

        def on_train_batch_begin(self, batch, logs=None):
            if self.first_step is None:
                self.first_step = time.perf_counter() - PROCESS_START
            self._t = time.perf_counter()

        def on_train_batch_end(self, batch, logs=None):
            self.times.append(time.perf_counter() - self._t)

    return Timer()


def lecture_fit(name: str, spec: dict, steps: int, data_dir: Path, timer) -> tuple[float, dict]:
    """The lecture's own loading and preprocessing: the dataset in memory, as keras.datasets returns it,
    then a float64 copy of everything, scaled."""
    import numpy as np

    images, labels = np.load(data_dir / "train_images.npy"), np.load(data_dir / "train_labels.npy")
    x = images / 255.0
    model = lecture_model(spec, MODELS[name]["input"], MODELS[name]["classes"])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    start = time.perf_counter()
    model.fit(x, labels, batch_size=BATCH, epochs=1, steps_per_epoch=steps, verbose=0, callbacks=[timer])
    return time.perf_counter() - start, {}


def pipeline_fit(name: str, spec: dict, steps: int, data_dir: Path, timer, training: dict) -> tuple[float, dict]:
    """What the train rule runs: the memory-mapped split through the study's feeding, its settings."""
    import numpy as np

    from study.data.prepare import load_split
    from study.training.feeding import make_dataset
    from study.training.models import build_model
    from study.training.optimizers import build_optimizer
    from study.training.runtime import describe_device, gpu_peak_memory_mb, resolve_training, seed_everything

    seed_everything(0)
    device = describe_device()
    training = resolve_training(training, device)
    images, labels = load_split(data_dir, "train")
    model = build_model(spec, MODELS[name]["input"], classes=MODELS[name]["classes"], precision=training["precision"])
    model.compile(
        optimizer=build_optimizer(spec, steps),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
        steps_per_execution=training["steps_per_execution"],
    )
    start = time.perf_counter()
    data = make_dataset(images, labels, BATCH, seed=0)
    model.fit(data, epochs=1, steps_per_epoch=steps, shuffle=False, verbose=0, callbacks=[timer])
    seconds = time.perf_counter() - start
    # Read the rest of the split (untrained) so that the peak memory counts every
    # image of the memory-mapped split, as a full epoch does.
    for first in range(steps * BATCH, len(labels), BATCH):
        np.asarray(images[first : first + BATCH])
    gpu = {"CUDA_VISIBLE_DEVICES": os.environ.get("CUDA_VISIBLE_DEVICES"), "gpu_peak_mb": gpu_peak_memory_mb()}
    return seconds, training | {"device": device["name"]} | gpu


def worker(mode: str, name: str, spec: dict, steps: int, warmup: int, data_dir: Path, training: dict) -> dict:
    """One measurement, in this process: per-step seconds, peak RSS, time to the first step.

    ``training`` (pipeline only): the config's `training` settings to measure.
    """
    if mode == "pipeline":
        from study.training.runtime import configure_backend

        configure_backend(training.get("backend", "tensorflow"))
    import keras

    keras.utils.set_random_seed(0)
    timer = step_timer()
    if mode == "lecture":
        epoch_seconds, settings = lecture_fit(name, spec, steps, data_dir, timer)
    else:
        epoch_seconds, settings = pipeline_fit(name, spec, steps, data_dir, timer, training)
    # With steps_per_execution > 1 each timed "step" is a group of steps.
    group = settings.get("steps_per_execution", 1)
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
        "forward_flops_per_image": forward_flops(spec, MODELS[name]["input"], MODELS[name]["classes"]),
        "onednn": os.environ.get("TF_ENABLE_ONEDNN_OPTS", "default"),
        **settings,
    }


def measure(mode: str, name: str, spec: dict, args: argparse.Namespace) -> dict:
    """One measurement in a fresh process (TensorFlow reads its settings once, and peak memory is per process)."""
    env = {k: v for k, v in os.environ.items() if k != "TF_ENABLE_ONEDNN_OPTS"}
    job = {
        "mode": mode,
        "name": name,
        "spec": spec,
        "steps": args.steps,
        "warmup": args.warmup,
        "data_dir": str(write_bench_data(name, args.out / "data")),
        "training": json.loads(args.training),
    }
    command = [sys.executable, "-m", "study.training.bench.throughput", "--worker", json.dumps(job)]
    result = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
    if result.returncode:
        raise RuntimeError(f"{mode} {name} failed:\n{result.stderr[-3000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def summary_row(name: str, part, peak: float, floor: float) -> dict:
    """One model's line of the comparison: medians over rounds, ratios pipeline / lecture."""
    lecture = part[part["mode"] == "lecture"].set_index("round")
    pipeline = part[part["mode"] == "pipeline"].set_index("round")
    ratios = pipeline["images_per_second"] / lecture["images_per_second"]
    lecture_peak, pipeline_peak = lecture["peak_rss_mb"].max(), pipeline["peak_rss_mb"].max()
    return {
        "model": name,
        "pipeline precision": pipeline["precision"].iloc[0],
        "lecture img/s": lecture["images_per_second"].median(),
        "pipeline img/s": pipeline["images_per_second"].median(),
        "ratio": ratios.median(),
        "ratio min-max": f"{ratios.min():.2f}-{ratios.max():.2f}",
        "pipeline GFLOP/s": pipeline["gflops"].median(),
        "% of sgemm peak": 100 * pipeline["gflops"].median() / peak,
        "lecture peak MB": lecture_peak,
        "pipeline peak MB": pipeline_peak,
        "memory ratio": pipeline_peak / lecture_peak,
        "memory ratio above framework": (pipeline_peak - floor) / (lecture_peak - floor),
        "pipeline s to 1st step": pipeline["seconds_to_first_step"].median(),
        "pipeline epoch / sum of steps": (pipeline["epoch_seconds"] / pipeline["sum_step_seconds"]).median(),
    }


def compare(specs: dict, args: argparse.Namespace) -> None:
    """The lecture's way against the pipeline's, interleaved A B A B, per model; tables to args.out."""
    import pandas as pd

    peak, peak_how = sgemm_peak_gflops()
    floor = framework_floor_mb()
    rows = []
    for name in args.models:
        for round_ in range(1, args.rounds + 1):
            for mode in ("lecture", "pipeline"):
                m = measure(mode, name, specs[name], args) | {"round": round_}
                rows.append(m)
                print(
                    f"  {name:13s} round {round_} {mode:8s} {BATCH / m['median_step_seconds']:8.1f} img/s "
                    f"peak {m['peak_rss_mb']:7.0f} MB",
                    flush=True,
                )
    raw = pd.DataFrame(rows)
    raw["images_per_second"] = BATCH / raw["median_step_seconds"]
    raw["gflops"] = 3 * raw["forward_flops_per_image"] * raw["images_per_second"] / 1e9
    table = pd.DataFrame([summary_row(name, part, peak, floor) for name, part in raw.groupby("model", sort=False)])
    args.out.mkdir(parents=True, exist_ok=True)
    raw.drop(columns=["step_seconds"]).to_csv(args.out / "measurements.csv", index=False)
    table.to_csv(args.out / "summary.csv", index=False)
    print(
        f"\nsgemm peak {peak:.0f} GFLOP/s ({peak_how}); batch {BATCH}, {args.steps} steps, "
        f"{args.warmup} warm-up dropped, {args.rounds} rounds; TensorFlow + Keras alone: {floor:.0f} MB\n"
    )
    print(table.to_string(index=False, float_format=lambda v: f"{v:.2f}"))


def pipeline_only(specs: dict, args: argparse.Namespace) -> None:
    for name in args.models:
        m = measure("pipeline", name, specs[name], args)
        print(
            f"{name:13s} {BATCH / m['median_step_seconds']:9.1f} img/s  {m['epoch_seconds']:7.2f} s for "
            f"{args.steps} steps  peak {m['peak_rss_mb']:.0f} MB  device {m['device']} "
            f"(CUDA_VISIBLE_DEVICES {m['CUDA_VISIBLE_DEVICES']}, GPU peak {m['gpu_peak_mb'] or 0:.0f} MiB)  "
            f"{m['backend']} {m['precision']} steps/exec {m['steps_per_execution']}",
            flush=True,
        )


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=list(MODELS), choices=list(MODELS))
    parser.add_argument(
        "--config", nargs="+", default=["config/config.yaml"], help="config layers the model specs are read from"
    )
    parser.add_argument("--steps", type=int, default=12, help="training steps per measurement")
    parser.add_argument("--warmup", type=int, default=3, help="first steps dropped from the timings")
    parser.add_argument("--rounds", type=int, default=2, help="A B pairs per model")
    parser.add_argument("--out", type=Path, default=Path("results/bench"))
    parser.add_argument(
        "--pipeline-only", action="store_true", help="measure only the pipeline's training path (the GPU check)"
    )
    parser.add_argument(
        "--training",
        default="{}",
        help='training settings for the pipeline, as JSON: {"precision": "mixed_bfloat16", "steps_per_execution": 8}',
    )
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def main(argv=None) -> None:
    args = parse_args(argv)
    if args.worker:
        job = json.loads(args.worker)
        job["data_dir"] = Path(job["data_dir"])
        print(json.dumps(worker(**job)))
        return
    specs = bench_specs(args.config)
    if args.pipeline_only:
        pipeline_only(specs, args)
    else:
        compare(specs, args)


if __name__ == "__main__":
    main()
