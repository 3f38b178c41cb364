"""How long a published study took, in words: each stage `make` timed, and the whole command."""

from __future__ import annotations

from pathlib import Path


def stage_seconds(results: Path, stage: str) -> int | None:
    """The seconds `make STAGE` wrote to RESULTS/STAGE-wall-seconds (the Makefile), or None where it wrote none."""
    timed = results / f"{stage}-wall-seconds"
    return int(timed.read_text()) if timed.exists() else None


def stage_wall_time(results: Path, stage: str) -> str:
    """'It took 30.0 minutes of wall time (`make sensitivity`).', or empty where `make STAGE` timed nothing."""
    seconds = stage_seconds(results, stage)
    return "" if seconds is None else f"It took {seconds / 60:.1f} minutes of wall time (`make {stage}`)."


def wall_time(timing: dict) -> str:
    """The whole command's wall time when it was measured, with the training span beside it; where the
    confirmatory study was trained apart first (`make confirmatory`), its wall time, then the command's."""
    span = f"{timing['training_span_minutes']:.1f} minutes from the first training job's start to the last one's end"
    whole, confirmatory = timing.get("wall_seconds"), timing.get("confirmatory_seconds")
    if confirmatory is None:
        return span if whole is None else f"{whole / 60:.1f} minutes of wall time for the whole study ({span})"
    then = "" if whole is None else f", then {whole / 60:.1f} minutes for the tables, report and publication"
    return (
        f"{confirmatory / 60:.1f} minutes of wall time for the confirmatory study (`make confirmatory`; {span}){then}"
    )
