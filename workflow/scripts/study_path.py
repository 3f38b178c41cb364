"""Make the study package of this checkout the one a job imports, also where it is not installed (a conda env
built from workflow/envs, a deployed workflow) or where another checkout is. Snakemake puts a local script's
folder on the job's path."""

import sys
from pathlib import Path

SOURCE = str(Path(__file__).resolve().parents[2] / "src")
if Path(SOURCE).is_dir():
    sys.path[:] = [SOURCE, *(path for path in sys.path if path != SOURCE)]
