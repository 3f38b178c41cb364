import json
from pathlib import Path

import study_path  # noqa: F401

from study.analysis.looks import judge_look
from study.analysis.tables import read_runs, runs_table
from study.layout import run_dirs_of
from study.logs import logged_to

with logged_to(snakemake.log[0]):
    config = snakemake.params.config
    metrics, _ = read_runs(run_dirs_of(snakemake.input.metrics), config["outcomes"])
    previous = json.loads(Path(snakemake.input.previous[0]).read_text()) if snakemake.input.previous else None
    look = judge_look(runs_table(metrics), previous, config)
    Path(snakemake.output[0]).write_text(json.dumps(look, indent=2) + "\n")
    print(f"look {look['look']} of {len(look['looks'])}: next variants {look['next_variants'] or 'none'}")
