"""A training run's state between epochs, so that a killed job resumes where it stopped.

Keras' BackupAndRestore keeps the weights and optimizer state; beside them this
module keeps the run's identity (run.json) and the rows recorded so far
(epochs.csv, diagnostics.csv, state.json), each replaced atomically.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pandas as pd


def write_table_atomically(path: Path, table: pd.DataFrame) -> None:
    partial = path.with_suffix(".partial")
    table.to_csv(partial, index=False)
    os.replace(partial, path)


def open_checkpoint(checkpoint_dir: Path, identity: dict) -> int:
    """The epoch to resume from: the checkpoint's when the run ``identity`` saved it, else 0.

    A checkpoint left by a different run, such as one killed before its variant's
    config changed, is removed rather than resumed.
    """
    identity = json.loads(json.dumps(identity, sort_keys=True))
    run_file = checkpoint_dir / "run.json"
    if checkpoint_dir.exists() and (not run_file.exists() or json.loads(run_file.read_text()) != identity):
        print(f"removing {checkpoint_dir}: it holds the checkpoint of a different run", flush=True)
        shutil.rmtree(checkpoint_dir)
    checkpoint_dir.mkdir(parents=True, exist_ok=True)
    run_file.write_text(json.dumps(identity, sort_keys=True))
    return checkpointed_epoch(checkpoint_dir)


def checkpointed_epoch(checkpoint_dir: Path) -> int:
    """The last epoch BackupAndRestore saved in ``checkpoint_dir`` (0 when there is none)."""
    metadata = checkpoint_dir / "training_metadata.json"
    return json.loads(metadata.read_text())["epoch"] if metadata.exists() else 0


def save_rows(checkpoint_dir: Path, epochs: pd.DataFrame, diagnostics: pd.DataFrame, diagnostics_seconds: float):
    """Keep the rows recorded so far; called after each epoch, before the weights are saved."""
    write_table_atomically(checkpoint_dir / "epochs.csv", epochs)
    write_table_atomically(checkpoint_dir / "diagnostics.csv", diagnostics)
    (checkpoint_dir / "state.json").write_text(json.dumps({"diagnostics_seconds": diagnostics_seconds}))


def restore_rows(checkpoint_dir: Path | None, first_epoch: int) -> tuple[list[dict], pd.DataFrame, float]:
    """Epoch rows, diagnostics rows and diagnostics seconds of the epochs a checkpoint covers."""
    if not first_epoch:
        return [], pd.DataFrame(), 0.0
    epochs = pd.read_csv(checkpoint_dir / "epochs.csv")
    diagnostics = pd.read_csv(checkpoint_dir / "diagnostics.csv")
    state = json.loads((checkpoint_dir / "state.json").read_text())
    return (
        epochs[epochs["epoch"] <= first_epoch].to_dict("records"),
        diagnostics[diagnostics["epoch"] <= first_epoch],
        state["diagnostics_seconds"],
    )
