"""Each run as a session of TensorBoard's HParams dashboard, so that it filters and groups seeds by variant.

Written on the tables side once the runs are judged (the tracking rule): a session holds what defines the run
(variant, seed, dataset, width, learning rate, optimizer, initializer, batch norm, skip, precision, backend),
its outcome and cause, and its final metrics measured in inference mode as scalars. One event file per run,
at a fixed name and with the run's finish time, so the same runs write the same bytes. Through TensorBoard's
own protobufs and record writer: no framework is imported. The training curves are the runs' own event
files (study.training.monitoring), which TensorBoard shows beside these from the same --logdir.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from tensorboard.compat.proto import event_pb2, summary_pb2
from tensorboard.plugins.hparams import summary_v2
from tensorboard.summary.writer.record_writer import RecordWriter

from study.atomic import written_atomically
from study.tracking import run_settings

SESSION_FILE = "events.out.tfevents.hparams"
FINAL_METRICS = ("final_train_accuracy", "final_val_accuracy", "final_train_loss", "final_val_loss")


def run_hparams(record: dict) -> dict[str, object]:
    """What defines a judged run (a metrics.json record with its outcome and cause), as HParams values."""
    return run_settings(record["run"]) | {"outcome": record["outcome"], "cause": record["cause"]}


def session_dir(out_dir: str | Path, record: dict) -> Path:
    """A run's session folder: VARIANT/seed_SEED under ``out_dir``."""
    return Path(out_dir) / record["variant"] / f"seed_{record['seed']}"


def write_session(out_dir: str | Path, record: dict) -> Path:
    """Write a judged run's HParams session and final metrics; return its event file."""
    when = datetime.fromisoformat(record["finished_at"]).timestamp()
    summaries = [
        summary_v2.hparams_pb(
            run_hparams(record), trial_id=f"{record['variant']}/seed_{record['seed']}", start_time_secs=when
        )
    ]
    summaries += [
        summary_pb2.Summary(value=[summary_pb2.Summary.Value(tag=name, simple_value=float(record[name]))])
        for name in FINAL_METRICS
    ]
    events = [event_pb2.Event(wall_time=when, file_version="brain.Event:2")]
    events += [event_pb2.Event(wall_time=when, step=0, summary=summary) for summary in summaries]
    path = session_dir(out_dir, record) / SESSION_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    with written_atomically(path) as partial, open(partial, "wb") as file:
        writer = RecordWriter(file)
        for event in events:
            writer.write(event.SerializeToString())
    return path


def write_sessions(out_dir: str | Path, records: list[dict]) -> list[Path]:
    return [write_session(out_dir, record) for record in records]
