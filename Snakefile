from snakemake.utils import min_version, validate

from study.config import apply_extend, check_renamed_keys

min_version("9.0")


configfile: "config/config.yaml"


apply_extend(config)
check_renamed_keys(config)
validate(config, "workflow/schemas/config.schema.yaml")


report: "workflow/report/workflow.rst"


include: "workflow/rules/common.smk"
include: "workflow/rules/download.smk"
include: "workflow/rules/prepare.smk"
include: "workflow/rules/train.smk"
include: "workflow/rules/looks.smk"
include: "workflow/rules/sensitivity.smk"
include: "workflow/rules/aggregate.smk"
include: "workflow/rules/report.smk"


onstart:
    print(get_plan())
    freeze(config, PROTOCOL)


rule all:
    input:
        "results/report.html",
        get_report_pdf(),
