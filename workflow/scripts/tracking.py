import pandas as pd
import study_path  # noqa: F401

from study.analysis.tables import read_runs
from study.layout import run_dirs_of
from study.logs import logged_to
from study.protocol import recorded_sha256
from study.tracking.hparams import write_sessions
from study.tracking.mlflow_runs import tag_judged_runs, tracker_of

with logged_to(snakemake.log[0]):
    # The config, not params: how runs are judged changes their outcome here, not what they trained.
    judged, _ = read_runs(run_dirs_of(snakemake.input.metrics), snakemake.config["outcomes"])
    written = write_sessions(snakemake.output.hparams, judged)
    print(f"{len(written)} HParams sessions written under {snakemake.output.hparams}")
    protocol = snakemake.input.protocol
    tracker = tracker_of(snakemake.config, protocol, recorded_sha256(protocol))
    if tracker:
        claims = pd.read_csv(snakemake.input.claims)
        verdicts = dict(zip(claims["claim"], claims["verdict"], strict=True))
        tagged = tag_judged_runs(tracker, judged, verdicts)
        print(f"{tagged} of {len(judged)} MLflow runs tagged with their outcome and cause")
