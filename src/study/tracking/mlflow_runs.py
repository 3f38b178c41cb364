"""Each training job as an MLflow run, nested under its study's run, when config ``tracking.mlflow.uri`` names a
tracking server (off by default).

A job's run is tagged with its variant and seed, holds the run's settings as params, and takes every epoch's
metrics (measured as history.csv records them) and the diagnostics' per-layer scalars as they are recorded.
After aggregate, the tracking rule adds each run's outcome and cause, and the claims' verdicts on the study's
run. The tracker is a copy, never the record: every call is guarded, and a server that cannot be reached
costs one warning in the job's log and nothing of its files. Requests are not retried and time out after
``tracking.mlflow.timeout_seconds``, so a job whose server went away loses seconds, not its training.
"""

from __future__ import annotations

import fcntl
import math
import os
import re
import time
from pathlib import Path

STUDY, KIND = "study", "kind"  # tags: which study a run belongs to, and whether it is the study's run or a job's


def study_name(protocol: str | os.PathLike, protocol_sha256: str) -> str:
    """A study as the tracker knows it: its folder (where its protocol is, under a module's prefix too) and its
    protocol's hash."""
    return f"{Path(protocol).parent.as_posix()}@{protocol_sha256[:12]}"


class Tracker:
    """One MLflow run that never fails the job using it: its first error is written to the job's log as a
    warning, and it does nothing after that."""

    def __init__(self, settings: dict, study: str, lock: Path):
        self.settings, self.study, self.lock = settings, study, Path(lock)
        self.client, self.experiment, self.run_id, self.stopped = None, None, None, False
        os.environ["MLFLOW_HTTP_REQUEST_MAX_RETRIES"] = "0"
        os.environ["MLFLOW_HTTP_REQUEST_TIMEOUT"] = str(settings["timeout_seconds"])

    def guarded(self, what: str, call):
        if self.stopped:
            return None
        try:
            return call()
        except Exception as error:  # whatever the tracker raises, the job goes on: its own files are the record
            self.stopped = True
            print(
                f"WARNING: MLflow tracking at {self.settings['uri']} stopped ({what}): {type(error).__name__}: "
                f"{str(error).splitlines()[0] if str(error) else ''}; the run goes on and its files are the record",
                flush=True,
            )
            return None

    def connect(self) -> str:
        """The experiment's id, looked up (or created) on the first call, when the client is made."""
        if self.experiment is None:
            from mlflow.tracking import MlflowClient

            self.client = MlflowClient(tracking_uri=self.settings["uri"])
            found = self.client.get_experiment_by_name(self.settings["experiment"])
            name = self.settings["experiment"]
            self.experiment = found.experiment_id if found else self.client.create_experiment(name)
        return self.experiment

    def study_run(self, experiment: str) -> str:
        """The study's run, created by the first job to look for it (under a file lock: jobs start together)."""
        self.lock.parent.mkdir(parents=True, exist_ok=True)
        with open(self.lock, "w") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            found = self.find(experiment, {KIND: "study"})
            if found:
                return found
            tags = {STUDY: self.study, KIND: "study", "mlflow.runName": self.study}
            return self.client.create_run(experiment, tags=tags).info.run_id

    def find(self, experiment: str, tags: dict) -> str | None:
        """The id of this study's run with ``tags``, None when there is none."""
        wanted = {STUDY: self.study} | tags
        query = " and ".join(f"tags.`{key}` = '{value}'" for key, value in wanted.items())
        runs = self.client.search_runs([experiment], filter_string=query, max_results=1)
        return runs[0].info.run_id if runs else None

    def start(self, variant: str, seed: int, params: dict) -> None:
        """Open the job's run, nested under the study's: the one a killed job had opened, when it resumes."""

        def start():
            from mlflow.entities import Param

            experiment = self.connect()
            parent = self.study_run(experiment)
            mine = {KIND: "run", "variant": variant, "seed": str(seed)}
            self.run_id = self.find(experiment, mine)
            if self.run_id is None:
                tags = mine | {STUDY: self.study, "mlflow.parentRunId": parent, "mlflow.runName": f"{variant}/{seed}"}
                self.run_id = self.client.create_run(experiment, tags=tags).info.run_id
                settings = [Param(key, str(value)) for key, value in params.items()]
                self.client.log_batch(self.run_id, params=settings)

        self.guarded("start", start)

    def log_epoch(self, epoch: int, values: dict[str, float]) -> None:
        def log():
            from mlflow.entities import Metric

            now = int(time.time() * 1000)
            metrics = [
                Metric(key, float(value), now, epoch) for key, value in values.items() if math.isfinite(float(value))
            ]
            self.client.log_batch(self.run_id, metrics=metrics)

        if self.run_id:
            self.guarded(f"epoch {epoch}", log)

    def finish(self, model_path: Path | None = None) -> None:
        def finish():
            if self.settings["log_models"] and model_path is not None:
                self.client.log_artifact(self.run_id, str(model_path))
            self.client.set_terminated(self.run_id, "FINISHED")

        if self.run_id:
            self.guarded("finish", finish)


def tracker_of(config: dict, protocol: str | os.PathLike, protocol_sha256: str) -> Tracker | None:
    """A job's tracker, None when the config names no MLflow server. The study's folder holds the protocol, and
    the lock its jobs take to create the study's run."""
    settings = config["tracking"]["mlflow"]
    if not settings["uri"]:
        return None
    return Tracker(settings, study_name(protocol, protocol_sha256), Path(protocol).parent / ".mlflow.lock")


def claim_tag(claim: str) -> str:
    """A claim as an MLflow tag key, which allows letters, digits, spaces and _ - . : / alone, 250 at most."""
    return ("claim: " + re.sub(r"[^\w\-.: /]", "_", claim))[:250]


def tag_judged_runs(tracker: Tracker, records: list[dict], verdicts: dict[str, str]) -> int:
    """After aggregate: each judged run's outcome and cause on its MLflow run, the claims' verdicts on the
    study's run. Returns the runs tagged (0 when the server could not be reached)."""

    def tag_runs():
        experiment = tracker.connect()
        tagged = 0
        for record in records:
            run_id = tracker.find(experiment, {KIND: "run", "variant": record["variant"], "seed": str(record["seed"])})
            if run_id:
                tracker.client.set_tag(run_id, "outcome", record["outcome"])
                tracker.client.set_tag(run_id, "cause", record["cause"])
                tagged += 1
        return tagged

    def tag_claims():
        study = tracker.find(tracker.connect(), {KIND: "study"})
        for claim, verdict in verdicts.items() if study else ():
            tracker.client.set_tag(study, claim_tag(claim), verdict)

    tagged = tracker.guarded("tagging the judged runs", tag_runs) or 0
    tracker.guarded("tagging the claims' verdicts", tag_claims)
    return tagged
