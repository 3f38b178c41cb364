"""The cost of watching a run: one training step, one diagnostics record and the TensorBoard writes, timed in
one process, projected to runs of the config's epochs.

    python -m study.training.bench.diagnostics_cost [--models ...] [--steps 12] [--out results/bench]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from study.training.bench.throughput import BATCH, MODELS, bench_specs


def tensorboard_seconds(model, diagnostics, images, labels, epochs: int) -> tuple[float, float]:
    """Seconds the TensorBoard callbacks take at the start of a run and per epoch, timed inside their hooks
    during a short fit (one step an epoch)."""
    import tempfile

    from study.training.feeding import make_dataset
    from study.training.monitoring import tensorboard_callbacks

    spent = {"on_train_begin": 0.0, "on_epoch_end": 0.0}

    def timed(hook, method):
        def run(*args, **kwargs):
            start = time.perf_counter()
            method(*args, **kwargs)
            spent[hook] += time.perf_counter() - start

        return run

    with tempfile.TemporaryDirectory() as log_dir:
        callbacks = tensorboard_callbacks(Path(log_dir), diagnostics, first_epoch=0)
        for callback in callbacks:
            for hook in spent:
                setattr(callback, hook, timed(hook, getattr(callback, hook)))
        data = make_dataset(images, labels, BATCH, seed=2, epochs=epochs)
        model.fit(data, epochs=epochs, steps_per_epoch=1, shuffle=False, verbose=0, callbacks=[diagnostics, *callbacks])
    return spent["on_train_begin"], spent["on_epoch_end"] / epochs


def diagnostics_cost(name: str, spec: dict, steps: int, saturation: float, records: int = 3) -> dict:
    """Seconds of one training step, of one diagnostics record (probe batch 256) and of the TensorBoard
    writes, in this process.

    The share of a run of the config's epochs follows: (epochs + 1) records, and
    the TensorBoard writes of every epoch, against epochs x steps-per-epoch training steps.
    """
    from study.training.runtime import configure_backend

    configure_backend()
    import numpy as np

    from study.specs import steps_per_epoch
    from study.training.diagnostics import TrainingDiagnostics
    from study.training.feeding import make_dataset
    from study.training.models import build_model
    from study.training.optimizers import build_optimizer
    from study.training.runtime import describe_device, resolve_training, seed_everything

    seed_everything(0)
    precision = resolve_training({}, describe_device())["precision"]
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, size=(steps * BATCH, *MODELS[name]["input"]), dtype=np.uint8)
    labels = rng.integers(0, MODELS[name]["classes"], size=len(images)).astype(np.uint8)
    model = build_model(spec, MODELS[name]["input"], classes=MODELS[name]["classes"], precision=precision)
    model.compile(
        optimizer=build_optimizer(spec, steps + 2), loss="sparse_categorical_crossentropy", metrics=["accuracy"]
    )
    model.fit(make_dataset(images, labels, BATCH, seed=0), epochs=1, steps_per_epoch=2, shuffle=False, verbose=0)
    start = time.perf_counter()
    model.fit(make_dataset(images, labels, BATCH, seed=1), epochs=1, steps_per_epoch=steps, shuffle=False, verbose=0)
    step = (time.perf_counter() - start) / steps
    diagnostics = TrainingDiagnostics(images[:BATCH], labels[:BATCH], saturation)
    diagnostics.set_model(model)
    diagnostics.record(0)  # warm-up (traces the probe model)
    start = time.perf_counter()
    for epoch in range(1, records + 1):
        diagnostics.record(epoch)
    record = (time.perf_counter() - start) / records
    tensorboard_start, tensorboard_epoch = tensorboard_seconds(model, diagnostics, images, labels, records)
    epochs, epoch_steps = spec["epochs"], steps_per_epoch(MODELS[name]["images"], BATCH)
    training = step * epoch_steps * epochs
    return {
        "model": name,
        "precision": precision,
        "step_seconds": step,
        "record_seconds": record,
        "tensorboard_start_seconds": tensorboard_start,
        "tensorboard_epoch_seconds": tensorboard_epoch,
        "epochs": epochs,
        "steps_per_epoch": epoch_steps,
        "share_percent": 100 * record * (epochs + 1) / training,
        "tensorboard_share_percent": 100 * (tensorboard_start + tensorboard_epoch * epochs) / training,
    }


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=list(MODELS), choices=list(MODELS))
    parser.add_argument("--config", nargs="+", default=["config/config.yaml"], help="config layers of the specs")
    parser.add_argument("--steps", type=int, default=12, help="training steps timed per model")
    parser.add_argument("--out", type=Path, default=Path("results/bench"))
    args = parser.parse_args(argv)
    import pandas as pd

    from study.config import load_config

    specs = bench_specs(args.config)
    saturation = load_config(args.config)["diagnostics"]["saturation"]
    table = pd.DataFrame([diagnostics_cost(name, specs[name], args.steps, saturation) for name in args.models])
    args.out.mkdir(parents=True, exist_ok=True)
    table.to_csv(args.out / "diagnostics_cost.csv", index=False)
    print(table.to_string(index=False, float_format=lambda v: f"{v:.3f}"))


if __name__ == "__main__":
    main()
