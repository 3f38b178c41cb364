"""A training run's state between epochs, so that a killed job resumes where it stopped.

Keras' BackupAndRestore keeps the weights and optimizer state; beside them this
module keeps the run's identity (run.json), the rows recorded so far (epochs.csv,
steps.csv, diagnostics.csv) and state.json (the diagnostics' seconds, the dead-run
checks), each replaced atomically, and, once an epoch's weights are saved, a seal
with their checksums (seal.json). A checkpoint
is resumed only when it is this run's, of this checkpoint format, and whole:
anything else is removed, with a warning, and the run starts over.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import keras
import pandas as pd

from study.atomic import written_atomically
from study.data.download import file_digest

CHECKPOINT_FORMAT = 4  # raise it when what a checkpoint holds changes: older ones then start over
SEALED = ("latest.weights.h5", "training_metadata.json")  # what BackupAndRestore writes each epoch


def write_table_atomically(path: Path, table: pd.DataFrame) -> None:
    with written_atomically(path) as partial:
        table.to_csv(partial, index=False)


def write_text_atomically(path: Path, text: str) -> None:
    with written_atomically(path) as partial:
        partial.write_text(text)


def open_checkpoint(checkpoint_dir: Path, identity: dict) -> int:
    """The epoch to resume from: the checkpoint's when the run ``identity`` saved it whole, else 0.

    A checkpoint left by a different run (such as one killed before its variant's
    config changed) or by an older checkpoint format, or a damaged one, is removed
    rather than resumed.
    """
    identity = json.loads(json.dumps({"format": CHECKPOINT_FORMAT, "run": identity}, sort_keys=True))
    run_file = checkpoint_dir / "run.json"
    if checkpoint_dir.exists():
        if read_json(run_file) != identity:
            print(f"removing {checkpoint_dir}: it holds the checkpoint of another run or code version", flush=True)
            shutil.rmtree(checkpoint_dir)
        elif problem := damage(checkpoint_dir, checkpointed_epoch(checkpoint_dir)):
            print(f"warning: the checkpoint in {checkpoint_dir} is damaged ({problem}); starting over", flush=True)
            shutil.rmtree(checkpoint_dir)
        elif checkpointed_epoch(checkpoint_dir) == 0 and any(p.name != "run.json" for p in checkpoint_dir.iterdir()):
            # files of a first epoch that never finished saving (a kill, a full disk): Keras would load them
            print(f"warning: removing {checkpoint_dir}: its first epoch was never saved whole", flush=True)
            shutil.rmtree(checkpoint_dir)
    checkpoint_dir.mkdir(parents=True, exist_ok=True)
    run_file.write_text(json.dumps(identity, sort_keys=True))
    return checkpointed_epoch(checkpoint_dir)


def read_json(path: Path):
    """A JSON file's content, or None when it is missing or unreadable."""
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def damage(checkpoint_dir: Path, epoch: int | None) -> str | None:
    """What is wrong with a checkpoint of ``epoch``, or None when it is whole (or holds no epoch yet)."""
    if epoch == 0:
        return None
    if epoch is None:
        return "training_metadata.json is unreadable"
    seal = read_json(checkpoint_dir / "seal.json")
    if not seal or seal.get("epoch") != epoch:
        return f"no seal for epoch {epoch}"
    for name in SEALED:
        if not (checkpoint_dir / name).exists() or file_digest(checkpoint_dir / name, "sha256") != seal[name]:
            return f"{name} does not match its seal"
    try:
        rows, _, _, _ = restore_rows(checkpoint_dir, epoch)
    except (OSError, ValueError, KeyError) as error:
        return f"its rows are unreadable: {error}"
    if [row["epoch"] for row in rows] != list(range(1, epoch + 1)):
        return f"its rows do not cover epochs 1 to {epoch}"
    return None


class CheckpointSeal(keras.callbacks.Callback):
    """After BackupAndRestore has saved an epoch (it runs before this callback), seal what it wrote."""

    def __init__(self, checkpoint_dir: Path):
        super().__init__()
        self.checkpoint_dir = checkpoint_dir

    def on_epoch_end(self, epoch, logs=None):
        seal = {"epoch": epoch + 1} | {name: file_digest(self.checkpoint_dir / name, "sha256") for name in SEALED}
        write_text_atomically(self.checkpoint_dir / "seal.json", json.dumps(seal))


def checkpointed_epoch(checkpoint_dir: Path) -> int | None:
    """The last epoch BackupAndRestore saved in ``checkpoint_dir``: 0 when there is none, None when its
    record is unreadable."""
    metadata = checkpoint_dir / "training_metadata.json"
    if not metadata.exists():
        return 0
    record = read_json(metadata)
    return record.get("epoch") if isinstance(record, dict) else None


def save_rows(
    checkpoint_dir: Path,
    epochs: pd.DataFrame,
    steps: pd.DataFrame,
    diagnostics: pd.DataFrame,
    state: dict,
):
    """Keep the rows recorded so far, and ``state`` (JSON: the diagnostics' seconds, the dead-run checks); called
    after each epoch, before the weights are saved."""
    write_table_atomically(checkpoint_dir / "epochs.csv", epochs)
    write_table_atomically(checkpoint_dir / "steps.csv", steps)
    write_table_atomically(checkpoint_dir / "diagnostics.csv", diagnostics)
    write_text_atomically(checkpoint_dir / "state.json", json.dumps(state))


def restore_rows(checkpoint_dir: Path | None, first_epoch: int) -> tuple[list[dict], list[dict], pd.DataFrame, dict]:
    """Epoch rows, step rows, diagnostics rows and the saved state of the epochs a checkpoint covers (an empty
    state for a fresh start)."""
    if not first_epoch:
        return [], [], pd.DataFrame(), {}
    epochs = pd.read_csv(checkpoint_dir / "epochs.csv")
    steps = pd.read_csv(checkpoint_dir / "steps.csv")
    diagnostics = pd.read_csv(checkpoint_dir / "diagnostics.csv")
    state = json.loads((checkpoint_dir / "state.json").read_text())
    return (
        epochs[epochs["epoch"] <= first_epoch].to_dict("records"),
        steps[steps["epoch"] <= first_epoch].to_dict("records"),
        diagnostics[diagnostics["epoch"] <= first_epoch],
        state,
    )
