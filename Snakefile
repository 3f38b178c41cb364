# The workflow lives in workflow/Snakefile, where Snakemake's workflow catalog and modules look for it;
# this file keeps `snakemake` working from the repository's root.
include: "workflow/Snakefile"


# Snakemake takes the default target from the Snakefile it runs, never from one it includes.
rule default:
    default_target: True
    input:
        rules.all.input,
