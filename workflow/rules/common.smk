import json
from pathlib import Path

from jsonschema import ValidationError
from snakemake.logging import logger

from study.config import (
    ConfigError,
    check_config,
    load_config,
    stability_runs,
    train_mem_mb,
    trained_variants,
    train_runtime_minutes,
)
from study.analysis.looks import first_look_runs, next_look_runs
from study.data.formats import ARRAYS
from study.grid import sensitivity_runs, variant_spec
from study.data.download import dataset_source
from study.plan import plan_text
from study.protocol import freeze
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


# The protocol, written before the first job and never rewritten (study.protocol).
PROTOCOL = "results/protocol.json"

REPORT_NOTEBOOK = str(
    Path(workflow.basedir) / "workflow" / "notebooks" / "report.ipynb"
)


def get_plan():
    """The plan printed before the first job, with the quick profile as the way to a shorter run."""
    layers = get_config_layers()
    shown = [*(layers or ["config/config.yaml"]), "config/quick.yaml"]
    default, quick_layer = (
        Path(workflow.basedir) / "config" / name
        for name in ("config.yaml", "quick.yaml")
    )
    quick = None
    if not any(Path(layer).name == quick_layer.name for layer in layers):
        try:  # the Snakefile's config is the first layer, whatever --configfile adds
            quick = load_config([default, *layers, quick_layer])
        except (ValidationError, ConfigError) as error:
            print(f"(the quick profile does not apply to this config: {error})")
    command = f'make study ARGS="--configfile {" ".join(shown)}"'
    return plan_text(config, Path("results"), quick, command, local=workflow.local_exec)


def get_report_pdf():
    """results/report.pdf where Chromium is installed to print it; otherwise nothing, and the log says so."""
    if find_chromium():
        return ["results/report.pdf"]
    logger.warning(missing_chromium("results/report.pdf"))
    return []


def get_config_layers():
    """The config files given with --configfile, in the order they were layered."""
    return [str(path) for path in workflow.config_settings.configfiles]


def get_run_variants():
    """The variants this study trains: config 'variants_to_train', or all of them."""
    return trained_variants(config)


def get_run_datasets():
    return sorted({config["variants"][v]["dataset"] for v in get_run_variants()})


def run_dir(variant, seed):
    return f"results/runs/{variant}/seed_{seed}"


def read_look(look):
    """A look's judgement (study.analysis.looks), once its checkpoint has run."""
    return json.loads(Path(checkpoints.look.get(look=look).output[0]).read_text())


def get_look_run_dirs(wildcards):
    """The runs a look judges: the first look's seeds of every variant, then the runs of the look
    before with the new seeds of the variants it left open."""
    look = int(wildcards.look)
    if look == 1:
        return [run_dir(*run) for run in first_look_runs(config)]
    return [run_dir(*run) for run in next_look_runs(read_look(look - 1), config)]


def get_look_metrics(wildcards):
    return [f"{path}/metrics.json" for path in get_look_run_dirs(wildcards)]


def get_previous_look(wildcards):
    look = int(wildcards.look)
    return [] if look == 1 else [f"results/looks/look_{look - 1}.json"]


def get_final_look():
    """The look at which the study stopped: every claim settled, or the last look done."""
    look = 1
    while not read_look(look)["stop"]:
        look += 1
    return look


def get_look_files(wildcards):
    return [
        f"results/looks/look_{look}.json" for look in range(1, get_final_look() + 1)
    ]


def get_run_dirs(wildcards):
    """The study's runs: those of its final look."""
    return [
        run_dir(variant, seed) for variant, seed in read_look(get_final_look())["runs"]
    ]


def get_run_metrics(wildcards):
    return [f"{path}/metrics.json" for path in get_run_dirs(wildcards)]


def get_stability_run_dirs():
    """The stability check's runs: its variants (or every trained one) on its own seeds."""
    return [run_dir(variant, seed) for variant, seed in stability_runs(config)]


def get_sensitivity_run_dirs():
    """The map's runs: every variant in every cell of the grid, on the map's seeds (study.grid)."""
    return [run_dir(variant, seed) for variant, seed in sensitivity_runs(config)]


def get_sensitivity_metrics():
    return [f"{path}/metrics.json" for path in get_sensitivity_run_dirs()]


def get_stability_metrics():
    return [f"{run_dir}/metrics.json" for run_dir in get_stability_run_dirs()]


def get_run_preflights():
    return [f"results/preflight/{variant}.json" for variant in get_run_variants()]


def get_run_variant_specs():
    return {variant: config["variants"][variant] for variant in get_run_variants()}


def get_run_metas():
    return [f"results/data/{dataset}/meta.json" for dataset in get_run_datasets()]


def get_run_stats():
    return [f"results/stats/{dataset}.json" for dataset in get_run_datasets()]


def get_download_url(wildcards):
    dataset = config["datasets"][wildcards.dataset]
    return dataset_source(
        config["mirror"], dataset["url"], wildcards.dataset, wildcards.filename
    )


def get_download_checksum(wildcards):
    return config["datasets"][wildcards.dataset]["files"][wildcards.filename]


def get_dataset_downloads(wildcards):
    return [
        f"results/downloads/{wildcards.dataset}/{name}"
        for name in config["datasets"][wildcards.dataset]["files"]
    ]


def get_dataset_format(wildcards):
    return config["datasets"][wildcards.dataset]["format"]


def get_variant_data(wildcards):
    """The prepared arrays and channel statistics of a variant's dataset."""
    dataset = variant_spec(config, wildcards.variant)["dataset"]
    inputs = {array: f"results/data/{dataset}/{array}.npy" for array in ARRAYS}
    inputs["meta"] = f"results/data/{dataset}/meta.json"
    inputs["stats"] = f"results/stats/{dataset}.json"
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
