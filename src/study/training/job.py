"""Train one run in this process from a JSON job, for tools and tests that start training outside Snakemake:

    python -m study.training.job '{"run": {...}, "data_dir": "...", "stats_path": "...", "out_dir": "...", ...}'

"run" is a `study.training.run.Run` as a dict; the other keys are `study.training.loop.train_run`'s. The backend the run
names is set up before Keras loads, as the train rule's script does. The run's metrics.json is printed,
as the last line.
"""

from __future__ import annotations

import json
import sys

from study.training.run import Run
from study.training.runtime import configure_backend


def main(argv=None) -> None:
    job = json.loads((argv or sys.argv[1:])[0])
    run = Run.from_dict(job.pop("run"))
    configure_backend(run.training["backend"])
    from study.training.loop import train_run

    print(json.dumps(train_run(run, **job)))


if __name__ == "__main__":
    main()
