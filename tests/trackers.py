"""What a tracker shows of a study, read back through the tracker's own reader."""

from pathlib import Path

from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from tensorboard.plugins.hparams import plugin_data_pb2


def hparams_sessions(root: Path) -> dict[tuple[str, int], dict]:
    """Every HParams session under ``root`` (a study's tensorboard/ folder), read with TensorBoard's event
    reader: its hparams, with its scalars' last values, by (variant, seed)."""
    sessions = {}
    for path in sorted(root.rglob("*tfevents*")):
        events = EventAccumulator(str(path.parent))
        events.Reload()
        for content in events.PluginTagToContent("hparams").values():
            data = plugin_data_pb2.HParamsPluginData.FromString(content)
            if data.HasField("session_start_info"):
                hparams = {
                    name: value.WhichOneof("kind") and getattr(value, value.WhichOneof("kind"))
                    for name, value in data.session_start_info.hparams.items()
                }
                scalars = {tag: events.Scalars(tag)[-1].value for tag in events.Tags()["scalars"]}
                sessions[(hparams["variant"], int(hparams["seed"]))] = hparams | scalars
    return sessions


def curve_tags(run_dir: Path) -> set[str]:
    """The scalar tags of a run's training curves (its folder's tensorboard/, every subfolder)."""
    tags = set()
    for folder in {path.parent for path in (run_dir / "tensorboard").rglob("*tfevents*")}:
        events = EventAccumulator(str(folder))
        events.Reload()
        tags |= {f"{folder.name}/{tag}" for tag in events.Tags()["scalars"] + events.Tags()["tensors"]}
    return tags
