import study_path  # noqa: F401

from study.analysis.sensitivity import MapFacts
from study.analysis.tables import write_tables
from study.layout import run_dirs_of, tables
from study.logs import logged_to

with logged_to(snakemake.log[0]):
    facts = MapFacts.read(run_dirs_of(snakemake.input.metrics), snakemake.params.config)
    write_tables(tables("sensitivity"), facts, dict(snakemake.output.items()))
