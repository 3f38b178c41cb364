import json
import re
import sys
from pathlib import Path

from snakemake.io import report as in_report
from snakemake.logging import logger

from study.config import check_config, train_mem_mb, train_runtime_minutes
from study.data.download import dataset_source, sources_message, unreachable_downloads
from study.data.formats import ARRAYS
from study.layout import (
    RUN_FACTS,
    RUN_FILES,
    Layout,
    first_look_runs,
    lecture_cell_runs,
    next_look_runs,
    planned_datasets,
    restored_runs,
    stability_runs,
    sensitivity_runs,
    tables,
    trained_datasets,
    trained_variants,
    variant_spec,
)
from study.reporting.browser import find_chromium, missing_chromium
from study.training.run import Run

check_config(config)


# A job's gpu=1 is counted against --resources gpu=N where jobs run on this machine;
# on a cluster each job gets its own GPU from the cluster instead, so N caps nothing.
resource_scopes:
    gpu="local",


wildcard_constraints:
    dataset="[A-Za-z0-9_]+",
    variant=r"[A-Za-z0-9_][A-Za-z0-9_.=+-]*",
    seed=r"\d+",


# Every path of the study, under config 'results_folder' (study.layout).
LAYOUT = Layout.of(config)
# This checkout, wherever the workflow runs from (its own folder or a module's): its notebook, its commit.
CHECKOUT = Path(workflow.current_basedir).parents[1]
REPORT_NOTEBOOK = str(CHECKOUT / "workflow" / "notebooks" / "report.ipynb")


def get_plan():
    """The plan printed before the first job (study.plan)."""
    try:  # the plan reads measured speeds with pandas, which a Snakemake-only environment lacks
        from study.plan import plan_for_workflow
    except ImportError as error:
        return f"(No plan: {error.name} is not installed where Snakemake runs.)"
    return plan_for_workflow(
        config, LAYOUT, get_config_layers(), workflow.local_exec, bool(find_chromium())
    )


def get_dry_run_with_hooks():
    """Whether Snakemake was started as a dry run (-n, --dry-run) with its hooks on (no --no-hooks): its
    onstart, which prints the plan, does not run then, and the executor that would say so is chosen only
    after the workflow is read."""
    short = [
        arg for arg in sys.argv[1:] if arg.startswith("-") and not arg.startswith("--")
    ]
    dry = any("n" in arg[1:] for arg in short) or bool(
        {"--dry-run", "--dryrun"} & set(sys.argv)
    )
    return dry and "--no-hooks" not in sys.argv


def check_sources():
    """Stop before the first job, in one message, when the datasets cannot be fetched from here."""
    problems = unreachable_downloads(config, LAYOUT)
    if problems:
        raise SystemExit(sources_message(problems, get_config_layers()))


def get_final_outputs():
    """The report, and its PDF where Chromium is installed to print it (otherwise the log says so), and the
    runs' TensorBoard sessions."""
    if find_chromium():
        return [LAYOUT.report("html"), LAYOUT.report("pdf"), LAYOUT.tensorboard]
    logger.warning(missing_chromium(LAYOUT.report("pdf")))
    return [LAYOUT.report("html"), LAYOUT.tensorboard]


def get_config_layers():
    """The config files given with --configfile, in the order they were layered."""
    return [str(path) for path in workflow.config_settings.configfiles]


def get_table_outputs(rule):
    """The tables a rule writes (study.layout.TABLES), each in Snakemake's report when it has a caption."""
    outputs = {}
    for table in tables(rule):
        path = LAYOUT.table(table.name)
        caption = f"../report/{table.caption}" if table.caption else None
        outputs[table.name] = (
            in_report(path, caption=caption, category="Tables") if caption else path
        )
    return outputs


def get_report_tables():
    return {table.name: LAYOUT.table(table.name) for table in tables()}


def run_facts(runs, kind=""):
    """The recorded facts of ``runs`` as named inputs: each run's history, steps, diagnostics and metrics."""
    return {
        f"{kind}{Path(name).stem}": [LAYOUT.run_file(v, s, name) for v, s in runs]
        for name in RUN_FACTS
    }


def get_run_outputs(names):
    """A run's files ``names`` as a rule's named outputs, each by its stem, in the run's folder (wildcards)."""
    return {
        Path(name).stem: LAYOUT.run_file("{variant}", "{seed}", name) for name in names
    }


def read_look(look):
    """A look's judgement (study.analysis.looks), once its checkpoint has run."""
    return json.loads(Path(checkpoints.look.get(look=look).output[0]).read_text())


def get_look_runs(look):
    """The runs a look judges: the first look's seeds of every variant, then the runs of the look
    before with the new seeds of the variants it left open."""
    look = int(look)
    if look == 1:
        return first_look_runs(config)
    return next_look_runs(read_look(look - 1), config)


def get_look_inputs(wildcards):
    look = int(wildcards.look)
    previous = [] if look == 1 else [LAYOUT.look(look - 1)]
    return run_facts(get_look_runs(look)) | {"previous": previous}


def get_final_look():
    """The look at which the study stopped: every claim settled, or the last look done."""
    look = 1
    while not read_look(look)["stop"]:
        look += 1
    return look


def get_final_runs():
    """The study's runs: the final look's."""
    return [tuple(run) for run in read_look(get_final_look())["runs"]]


def get_aggregate_inputs(wildcards):
    """The study's runs (its final look's), every look taken, and the stability check's runs."""
    final = get_final_look()
    return (
        run_facts(get_final_runs())
        | run_facts(stability_runs(config), kind="stability_")
        | {"looks": [LAYOUT.look(look) for look in range(1, final + 1)]}
    )


def get_tracking_inputs(wildcards):
    """Every run the study trained: its final look's, the stability check's, the map's and the lecture
    cell's."""
    return run_facts(
        get_final_runs()
        + stability_runs(config)
        + sensitivity_runs(config)
        + lecture_cell_runs(config)
    )


def get_sensitivity_inputs():
    return run_facts(sensitivity_runs(config))


def get_lecture_cell_inputs():
    return run_facts(lecture_cell_runs(config))


def get_restore_facts():
    """The published facts.tar.xz that restored stages are read from (config restore), if any."""
    return config["restore"].get("facts", [])


def get_restored_variants_pattern():
    """A regex that matches exactly the variants of the restored stages, or nothing."""
    variants = sorted({variant for variant, _ in restored_runs(config)})
    return "|".join(re.escape(variant) for variant in variants) or "(?!)"


def get_run_preflights():
    return [LAYOUT.preflight(variant) for variant in trained_variants(config)]


def get_run_variant_specs():
    return {
        variant: config["variants"][variant] for variant in trained_variants(config)
    }


def get_run_datasets():
    return trained_datasets(config)


def get_run_metas():
    return [LAYOUT.meta(dataset) for dataset in get_run_datasets()]


def get_run_stats():
    return [LAYOUT.stats(dataset) for dataset in get_run_datasets()]


def get_planned_stats():
    """The channel statistics of every dataset the study may train on: its data is in place."""
    return [LAYOUT.stats(dataset) for dataset in planned_datasets(config)]


def get_download_url(wildcards):
    dataset = config["datasets"][wildcards.dataset]
    return dataset_source(
        config["mirror"], dataset["url"], wildcards.dataset, wildcards.filename
    )


def get_download_checksum(wildcards):
    return config["datasets"][wildcards.dataset]["files"][wildcards.filename]


def get_dataset_downloads(wildcards):
    return [
        LAYOUT.download(wildcards.dataset, name)
        for name in config["datasets"][wildcards.dataset]["files"]
    ]


def get_dataset_format(wildcards):
    return config["datasets"][wildcards.dataset]["format"]


def get_variant_data(wildcards):
    """The prepared arrays and channel statistics of a variant's dataset."""
    dataset = variant_spec(config, wildcards.variant)["dataset"]
    inputs = {array: LAYOUT.array(dataset, array) for array in ARRAYS}
    inputs["meta"] = LAYOUT.meta(dataset)
    inputs["stats"] = LAYOUT.stats(dataset)
    return inputs


def get_run(wildcards):
    """The run a training job trains, whole (study.training.run.Run as a dict)."""
    return Run.from_config(config, wildcards.variant, wildcards.seed).to_dict()


def get_preflight_run(wildcards):
    """The variant's run with the pre-flight seed: what its pre-flight checks build and seed."""
    return Run.from_config(
        config, wildcards.variant, config["preflight"]["seed"]
    ).to_dict()


def get_preflight_measurements():
    """What the pre-flight checks measure; their pass marks are the tables side's, so changing one reruns no job."""
    return {key: config["preflight"][key] for key in ("init_images", "batch", "steps")}


def get_train_mem_mb(wildcards):
    return train_mem_mb(variant_spec(config, wildcards.variant))


def get_train_runtime(wildcards):
    return train_runtime_minutes(variant_spec(config, wildcards.variant))
