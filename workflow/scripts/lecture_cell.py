import study_path  # noqa: F401

from study.analysis.lecture_cell import LectureCellFacts
from study.analysis.tables import write_tables
from study.layout import run_dirs_of, tables
from study.logs import logged_to

with logged_to(snakemake.log[0]):
    facts = LectureCellFacts.read(run_dirs_of(snakemake.input.metrics), snakemake.params.config)
    write_tables(tables("lecture_cell"), facts, dict(snakemake.output.items()))
