"""A study's recorded facts in one archive: every run's history, steps, diagnostics and metrics, the looks
taken, the pre-flight checks and the protocol, which every table is computed from (``python -m study.rejudge``
judges them again without retraining). Never a model, a checkpoint or a log.

xz, unlike gzip, writes no timestamp, so identical facts give identical bytes. The archive's members keep the
study folder's layout (study.layout); FACTS_MANIFEST says which files are which.
"""

from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path

import pandas as pd

from study.atomic import written_atomically
from study.layout import (
    RUN_FACTS,
    Layout,
    lecture_cell_runs,
    run_folder,
    sensitivity_runs,
    stability_runs,
    trained_datasets,
    trained_variants,
)

FACTS_ARCHIVE = "facts.tar.xz"
FACTS_MANIFEST = "facts.json"
IN_STUDY = Layout("")  # paths relative to the study's folder, as the archive holds them


def taken_looks(results: Path) -> list[str]:
    """The looks the study took, in order: look 1 up to the one that stopped it, as the workflow reads them."""
    looks, look = [], 1
    while True:
        path = IN_STUDY.look(look)
        looks.append(path)
        if json.loads((results / path).read_text())["stop"]:
            return looks
        look += 1


def facts_manifest(results: Path, config: dict) -> dict:
    """Which files of ``results`` the tables are computed from, as paths relative to it, in the order the
    workflow's aggregate, sensitivity and lecture_cell rules read them: the study's runs (tables/runs.csv), its
    stability, sensitivity-map and lecture-cell runs, the looks taken, the pre-flight checks and the protocol;
    and for the report, the parameter counts and channel statistics."""
    runs = pd.read_csv(results / IN_STUDY.table("runs"))
    variants = trained_variants(config)
    return {
        "run_dirs": [run_folder(v, s) for v, s in zip(runs["variant"], runs["seed"], strict=True)],
        "stability_run_dirs": [run_folder(v, s) for v, s in stability_runs(config)],
        "sensitivity_run_dirs": [run_folder(v, s) for v, s in sensitivity_runs(config)],
        "lecture_cell_run_dirs": [run_folder(v, s) for v, s in lecture_cell_runs(config)],
        "look_jsons": taken_looks(results),
        "preflight_jsons": [IN_STUDY.preflight(variant) for variant in variants],
        "protocol_json": IN_STUDY.protocol,
        "params_csv": IN_STUDY.table("params"),
        "stats_jsons": [IN_STUDY.stats(dataset) for dataset in trained_datasets(config)],
    }


def fact_files(manifest: dict) -> list[str]:
    """Every file the manifest names, each run folder as its RUN_FACTS, sorted."""
    run_dirs = [
        *manifest["run_dirs"],
        *manifest["stability_run_dirs"],
        *manifest["sensitivity_run_dirs"],
        *manifest.get("lecture_cell_run_dirs", []),  # none in facts published before the lecture's cell
    ]
    names = {f"{run_dir}/{name}" for run_dir in run_dirs for name in RUN_FACTS}
    names |= {*manifest["look_jsons"], *manifest["preflight_jsons"], manifest["params_csv"], *manifest["stats_jsons"]}
    return sorted(names | {manifest["protocol_json"]})


def add_file(archive: tarfile.TarFile, name: str, data: bytes) -> None:
    """``data`` as the member ``name``, with nothing of this machine or this moment in its header."""
    member = tarfile.TarInfo(name)
    member.size, member.mode, member.mtime = len(data), 0o644, 0
    archive.addfile(member, io.BytesIO(data))


def write_facts(results: Path, path: Path, config: dict) -> dict:
    """Write the recorded facts of the study in ``results`` to the archive ``path`` (FACTS_ARCHIVE): the
    manifest first, then every file it names, sorted, so identical facts give identical bytes. A study run
    outside the workflow, with no protocol written, is archived without one. Returns the manifest."""
    manifest = facts_manifest(results, config)
    names = [name for name in fact_files(manifest) if name != manifest["protocol_json"] or (results / name).exists()]
    with tarfile.open(path, "w:xz", format=tarfile.PAX_FORMAT) as archive:
        add_file(archive, FACTS_MANIFEST, (json.dumps(manifest, indent=2) + "\n").encode())
        for name in names:
            add_file(archive, name, (results / name).read_bytes())
    return manifest


def unpack_facts(published: Path, out: Path) -> dict:
    """Unpack PUBLISHED/facts.tar.xz into ``out``; return its manifest (which files are which)."""
    archive = published / FACTS_ARCHIVE
    if not archive.exists():
        raise SystemExit(f"{archive} does not exist: {published} was published before the facts were")
    out.mkdir(parents=True, exist_ok=True)
    with tarfile.open(archive) as facts:
        facts.extractall(out, filter="data")
    return json.loads((out / FACTS_MANIFEST).read_text())


def run_differences(recorded: dict, planned: dict, key: str = "") -> list[str]:
    """Where a run a study recorded differs from the run a config plans, as 'key: recorded -> planned'. The
    training settings a run resolved on its machine ('auto' precision, and why) differ from no plan."""
    if isinstance(recorded, dict) and isinstance(planned, dict):
        if key == "training":
            resolved = {"precision_choice"} | ({"precision"} if planned.get("precision") == "auto" else set())
            recorded = {k: v for k, v in recorded.items() if k not in resolved}
            planned = {k: v for k, v in planned.items() if k not in resolved}
        return [
            difference
            for name in sorted(recorded.keys() | planned.keys())
            for difference in run_differences(recorded.get(name), planned.get(name), f"{key}.{name}" if key else name)
        ]
    return [] if recorded == planned else [f"{key}: {recorded!r} -> {planned!r}"]


class RestoreError(ValueError):
    """A run could not be restored from a published study's facts as the config plans it."""


def restore_run(archive: Path, planned: dict, out: dict[str, Path]) -> None:
    """Write the recorded facts of the run ``planned`` (a study.training.run.Run as a dict) from the published
    ``archive`` (FACTS_ARCHIVE) to ``out`` (each of RUN_FACTS by its stem, as the train rule names them). The
    archive must hold the run, recorded as ``planned`` defines it."""
    folder = run_folder(planned["variant"], planned["seed"])
    with tarfile.open(archive) as facts:
        held = set(facts.getnames())
        missing = [name for name in RUN_FACTS if f"{folder}/{name}" not in held]
        if missing:
            raise RestoreError(f"{archive}: holds no {', '.join(missing)} of {folder}; it was not published with it")
        data = {name: facts.extractfile(f"{folder}/{name}").read() for name in RUN_FACTS}
    differences = run_differences(json.loads(data["metrics.json"])["run"], planned)
    if differences:
        raise RestoreError(
            f"{archive}: {folder} was trained as another run than the config defines ({'; '.join(differences)}): "
            "train it again, or restore from the study it belongs to"
        )
    for name, payload in data.items():
        with written_atomically(out[Path(name).stem]) as partial:
            partial.write_bytes(payload)
