"""The protocol: what the claims test and how, fixed before the runs that confirm them.

The workflow's protocol rule writes it when the study's data is in place, before its first run; training and
aggregate take it as input. It is frozen by the first run that trains (`freeze`): that job writes it again
if the config's rules changed since it was written, so a study that stopped before training fixed nothing,
then makes it read-only, which Snakemake reads as protected, and records its sha256. Afterwards nothing
rewrites it: the tables side compares the protocol the config states now with the frozen one, and a change
means the claims were judged under rules set after runs had been seen, so the report labels them
exploratory.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import stat
from datetime import UTC, datetime
from pathlib import Path

from study.atomic import written_atomically
from study.config import seed_sets
from study.training.run import Run


def claimed_variants(config: dict) -> list[str]:
    """Every variant a claim names, as the variant or its baseline."""
    return sorted({name for claim in config["claims"] for name in (claim["variant"], claim.get("baseline")) if name})


def recipe(config: dict, variant: str) -> dict:
    """Everything that defines a variant's runs but the seed."""
    run = Run.from_config(config, variant, 0).to_dict()
    del run["seed"]
    return run


JUDGING_CODE = Path(__file__).resolve().parent / "analysis"
LOOKS_RULE = (
    "each claim's p over K planned looks is min(1, K x its smallest p at the looks taken so far) (Bonferroni), "
    "then Holm-adjusted within its family; after each look the variants of the claims still undetermined get "
    "the next look's seeds"
)


def judging_code(folder: Path = JUDGING_CODE) -> dict[str, str]:
    """The sha256 of every Python file of the code that judges runs and claims (``study.analysis``), by path."""
    return {
        path.relative_to(folder).as_posix(): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(folder.rglob("*.py"))
    }


def test_constants() -> dict[str, object]:
    """The statistics module's named constants (levels, power, exact-test limits, Monte-Carlo draws and seed)."""
    from study.analysis import statistics

    return {
        name: value
        for name, value in sorted(vars(statistics).items())
        if name.isupper() and isinstance(value, int | float | str)
    }


def map_protocol(config: dict) -> dict:
    """The sensitivity map as it was planned: its variants, grid, seeds and its pre-registered trend test."""
    from study.analysis.sensitivity import trend_hypothesis, trend_key

    sensitivity = config["sensitivity"]
    if not sensitivity["variants"]:
        return {}
    return {
        "variants": sensitivity["variants"],
        "grid": sensitivity["grid"],
        "seeds": sensitivity["seeds"],
        "trend_test": {
            "along": trend_key(sensitivity),
            "claims": trend_hypothesis(sensitivity),
            "test": "exact Cochran-Armitage trend test on the ranks, stratified by the other keys' cells, "
            "two-sided, confirmed when fewer learn as it grows, Holm over the variants",
        },
    }


def protocol_of(config: dict) -> dict:
    """The protocol a config states: the seeds (and every set of seeds the config names, disjoint), the design
    (level, threshold, effects, looks, exploration seeds), the claims, the outcome thresholds that judge runs,
    the recipe of every claimed variant (the dead-run stop included), and the rules that turn them into
    verdicts: the judging code's hashes, the commit, the tests' constants, the looks rule, the sensitivity
    map with its trend test, and the lecture's cell (descriptive: no claim is tested on it)."""
    from study.provenance import git_commit

    return {
        "seeds": list(config["seeds"]),
        "seed_sets": seed_sets(config),
        "design": config["design"],
        "claims": config["claims"],
        "outcomes": config["outcomes"],
        "recipes": {name: recipe(config, name) for name in claimed_variants(config)},
        "judging_code": judging_code(),
        "commit": git_commit(JUDGING_CODE.parents[2]),
        "test_constants": test_constants(),
        "looks_rule": LOOKS_RULE,
        "map": map_protocol(config),
        "lecture_cell": config["lecture_cell"],
    }


def protocol_hash(protocol: dict) -> str:
    """sha256 of the protocol's canonical JSON (sorted keys, no spaces)."""
    text = json.dumps(protocol, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def is_frozen(path: str | os.PathLike) -> bool:
    """Whether a run has trained under the protocol at ``path``: the first training job made it read-only. Read
    from its mode bits, which hold for root as well, for whom os.access finds every file writable."""
    path = Path(path)
    return path.exists() and not path.stat().st_mode & WRITABLE


WRITABLE = stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH


def write_protocol(config: dict, path: str | os.PathLike) -> dict:
    """The protocol the config states, written atomically at ``path``; a frozen one is kept as it is."""
    path = Path(path)
    if is_frozen(path):
        return json.loads(path.read_text())
    protocol = protocol_of(config)
    record = {
        "sha256": protocol_hash(protocol),
        "written_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "protocol": protocol,
    }
    with written_atomically(path) as partial:
        partial.write_text(json.dumps(record, indent=2) + "\n")
    return record


class MissingProtocolError(FileNotFoundError):
    """A training job found no protocol where the workflow writes it before the first run."""


def freeze(path: str | os.PathLike, config: dict) -> str:
    """Freeze the protocol at ``path`` and return its sha256, which a training run records; a run that finds
    none fails. The first run to train freezes it: if the config's rules changed since it was written (a study
    that stopped before training), that run writes it again under them first. Under a lock beside it, for the
    jobs that start together."""
    path = Path(path)
    if not path.exists():
        raise MissingProtocolError(
            f"{path}: no protocol; the workflow's protocol rule writes it before the first run, and a run records "
            "its hash (train through the workflow, or give the path of the study's protocol.json)"
        )
    with open(path.parent / ".protocol.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not is_frozen(path):
            written = json.loads(path.read_text())["protocol"]
            if protocol_hash(rules_of(written)) != protocol_hash(rules_of(protocol_of(config))):
                print(f"{path}: written under other rules and no run had trained; written again under the config's")
                write_protocol(config, path)
            path.chmod(path.stat().st_mode & ~WRITABLE)
    return recorded_sha256(path)


def recorded_sha256(path: str | os.PathLike) -> str:
    """The sha256 of the protocol at ``path``, as its runs recorded it."""
    return json.loads(Path(path).read_text())["sha256"]


def rules_of(protocol: dict) -> dict:
    """What a protocol fixes, without the commit it was written at: a later commit that leaves the claims, the
    thresholds, the recipes and every line of the judging code as they were changes no rule."""
    return {key: value for key, value in protocol.items() if key != "commit"}


def protocol_status(frozen: dict | None, config: dict, run_hashes: list[str | None]) -> dict:
    """Whether the claims are judged under the protocol fixed before the runs: the config's protocol and the
    judging code now against the ones written first (their rules: the commit is recorded, not compared), and
    the runs' recorded hashes against it."""
    protocol = protocol_of(config)
    current = protocol_hash(protocol)
    if frozen is None:
        return {"sha256": None, "current_sha256": current, "changed": False, "runs_under_other": 0, "fixed": False}
    others = sum(recorded != frozen["sha256"] for recorded in run_hashes)
    changed = protocol_hash(rules_of(protocol)) != protocol_hash(rules_of(frozen["protocol"]))
    return {
        "sha256": frozen["sha256"],
        "written_at": frozen["written_at"],
        "commit": frozen["protocol"].get("commit"),
        "current_sha256": current,
        "changed": changed,
        "runs_under_other": others,
        "fixed": not changed and others == 0,
    }
