from study.analysis.sensitivity import write_sensitivity
from study.logs import logged_to

with logged_to(snakemake.log[0]):
    write_sensitivity(snakemake.params.run_dirs, snakemake.params.config, dict(snakemake.output.items()))
