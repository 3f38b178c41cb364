"""The workflow as others deploy it: as a Snakemake module with a prefix, parsed by Snakemake alone, with a conda
environment that builds where Snakemake copies it."""

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from conftest import REPO, SNAKEMAKE
from fakedata import serve, write_fashion_mnist

from study.config import merge_layers
from study.layout import tables

# The tiny study: the cheapest variant on two seeds, no map and no stability check.
TINY = {
    "seeds": [1, 2],
    "design": {"looks": []},  # one look: config.yaml's looks are for its 70 seeds
    "variants_to_train": ["fmnist_2conv_sigmoid"],
    "subset": {"train": 150, "val": 40},
    "variants": {"fmnist_2conv_sigmoid": {"epochs": 1, "batch_size": 64}},
    "preflight": {"init_images": 40, "steps": 5},
    "diagnostics": {"probe_images": 32, "step_interval": 1},
}
PREFIX = "deployed"
# A second workflow that uses this one as a module, as a lab would deploy it next to its own rules.
MODULE_SNAKEFILE = """\
configfile: "study.yaml"


module study:
    snakefile:
        "{snakefile}"
    config:
        config
    prefix:
        "{prefix}"


use rule * from study as study_*


rule all:
    default_target: True
    input:
        rules.study_all.input,
"""
DEVELOPMENT = {"pytest", "pytest-xdist", "selenium", "ruff", "snakefmt"}  # requirements.txt's tools, not the jobs'
WORKFLOW_ONLY = {"snakemake", "snakemake-executor-plugin-slurm", "snakemake-executor-plugin-slurm-jobstep"}


def pins(lines) -> dict[str, str]:
    found = (re.fullmatch(r"\s*-?\s*([A-Za-z0-9_.-]+)==(\S+)\s*", line) for line in lines)
    return {match[1].lower(): match[2] for match in found if match}


def test_the_conda_environment_names_exactly_the_pinned_packages_the_jobs_import_and_no_other_file():
    env = yaml.safe_load((REPO / "workflow" / "envs" / "study.yaml").read_text())
    pip = next(item["pip"] for item in env["dependencies"] if isinstance(item, dict))
    assert not [line for line in pip if line.startswith("-")], "no -r or -e: Snakemake copies the file alone"
    required = pins((REPO / "requirements.txt").read_text().splitlines())
    jobs = {name: version for name, version in required.items() if name not in DEVELOPMENT | WORKFLOW_ONLY}
    assert pins(pip) == jobs
    assert "python=3.11" in env["dependencies"]
    for rule_file in (REPO / "workflow" / "rules").glob("*.smk"):
        for env_path in re.findall(r'conda:\s*\n\s*"([^"]+)"', rule_file.read_text()):
            assert (rule_file.parent / env_path).resolve() == REPO / "workflow" / "envs" / "study.yaml"


@pytest.fixture(scope="module")
def snakemake_alone(tmp_path_factory):
    """A virtual environment with Snakemake, at requirements.txt's version, and nothing else of the study's."""
    env = tmp_path_factory.mktemp("snakemake-alone")
    subprocess.run([sys.executable, "-m", "venv", str(env)], check=True)
    version = pins((REPO / "requirements.txt").read_text().splitlines())["snakemake"]
    subprocess.run(
        [str(env / "bin" / "pip"), "install", "--quiet", f"snakemake=={version}"],
        check=True,
        capture_output=True,
        timeout=600,
    )
    return env / "bin" / "snakemake"


def deployed_copy(target: Path) -> Path:
    """What deploying the workflow takes: workflow/, config/ and the study's source, and nothing installed."""
    for folder in ("workflow", "config", "src/study"):
        shutil.copytree(REPO / folder, target / folder, ignore=shutil.ignore_patterns("__pycache__"))
    return target


def test_snakemake_alone_lints_and_plans_the_deployed_workflow_without_the_package_installed(snakemake_alone, tmp_path):
    deployed = deployed_copy(tmp_path / "deployed")
    probe = subprocess.run(
        [str(snakemake_alone.parent / "python"), "-c", "import numpy"], capture_output=True, cwd=tmp_path
    )
    assert probe.returncode != 0, "the environment has Snakemake and its own dependencies only"
    outputs = []
    for command in (["--lint"], ["-n", "--no-hooks", "--cores", "1"]):
        result = subprocess.run(
            [str(snakemake_alone), "--snakefile", "workflow/Snakefile", *command],
            capture_output=True,
            text=True,
            cwd=deployed,
        )
        assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
        outputs.append(result.stdout + result.stderr)
    assert "Congratulations, your workflow is in a good condition!" in outputs[0]
    assert re.search(r"^protocol\s+1$", outputs[1], re.MULTILINE), "the dry run plans the protocol"


def test_a_dry_run_without_hooks_plans_the_protocol_before_the_first_training_job(tmp_path):
    result = subprocess.run(
        [
            SNAKEMAKE,
            "-n",
            "--no-hooks",
            "--cores",
            "1",
            "--snakefile",
            str(REPO / "workflow" / "Snakefile"),
            "--directory",
            str(tmp_path),
            "--configfile",
            str(REPO / "config" / "config.yaml"),
        ],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    jobs = re.findall(r"^(?:local)?rule (\w+):", result.stdout, re.MULTILINE)
    assert "protocol" in jobs and jobs.index("protocol") < jobs.index("train")
    assert "Study plan" not in result.stdout, "no hook ran"


@pytest.fixture(scope="module")
def module_study(tmp_path_factory):
    work = tmp_path_factory.mktemp("module")
    files = write_fashion_mnist(work / "mirror" / "fashion_mnist")
    config = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    with serve(work / "mirror") as url:
        layer = TINY | {"mirror": url, "datasets": {"fashion_mnist": {"files": files}}}
        (work / "study.yaml").write_text(yaml.safe_dump(merge_layers(config, layer)))
        snakefile = MODULE_SNAKEFILE.format(snakefile=REPO / "workflow" / "Snakefile", prefix=PREFIX)
        (work / "Snakefile").write_text(snakefile)
        result = subprocess.run(
            [SNAKEMAKE, "--cores", "2", "--resources", "gpu=1", "--directory", str(work)],
            capture_output=True,
            text=True,
            timeout=900,
            cwd=work,
        )
    (work / "run.out").write_text(result.stdout + result.stderr)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-5000:]
    return work


def test_used_as_a_module_with_a_prefix_the_study_writes_its_tables_and_report_under_the_prefix(module_study):
    study = module_study / PREFIX / "results"
    for table in tables():
        assert (study / "tables" / table.file).stat().st_size > 0, table.file
    assert "Protocol fixed before the runs" in (study / "report.html").read_text()
    assert not (module_study / "results").exists(), "nothing outside the prefix"
    assert (study / "checkpoints").exists() or not list(module_study.rglob("checkpoints")), "checkpoints stay in"


def test_used_as_a_module_every_run_records_the_protocol_written_by_its_rule(module_study):
    study = module_study / PREFIX / "results"
    protocol = json.loads((study / "protocol.json").read_text())
    runs = list((study / "runs").glob("*/seed_*/metrics.json"))
    assert len(runs) == 2
    for metrics in runs:
        assert json.loads(metrics.read_text())["protocol_sha256"] == protocol["sha256"]
    assert not (study / "protocol.json").stat().st_mode & 0o222, "frozen by the first run: Snakemake never rewrites it"


DUMMY = 'Table("dummy", "aggregate", "study.dummy:dummy_table", published=True)'


def test_a_table_added_by_one_registry_entry_reaches_aggregate_the_report_publish_the_plan_and_the_tests(
    module_study, tmp_path, monkeypatch
):
    """A copy of the workflow whose registry has one more table (and its function), run over the finished
    module study: aggregate writes it and the report's notebook is given it; publish, the plan and the tests'
    lists, which read the registry here, name it."""
    deployed = deployed_copy(tmp_path / "deployed")
    layout = deployed / "src" / "study" / "layout.py"
    layout.write_text(layout.read_text() + f"\nTABLES = (*TABLES, {DUMMY})\n")
    (deployed / "src" / "study" / "dummy.py").write_text(
        "import pandas as pd\n\n\ndef dummy_table(facts):\n    return pd.DataFrame({'runs': [len(facts.metrics)]})\n"
    )
    work = tmp_path / "study"
    shutil.copytree(module_study, work, symlinks=True, ignore=shutil.ignore_patterns("mirror"))
    snakefile = MODULE_SNAKEFILE.format(snakefile=deployed / "workflow" / "Snakefile", prefix=PREFIX)
    (work / "Snakefile").write_text(snakefile)
    result = subprocess.run(
        [SNAKEMAKE, "--cores", "1", "--directory", str(work)], capture_output=True, text=True, cwd=work, timeout=600
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    output = result.stdout + result.stderr
    assert "rule study_aggregate" in output and "rule study_train" not in output, "nothing retrained"
    results = work / PREFIX / "results"
    assert (results / "tables" / "dummy.csv").read_text() == "runs\n2\n"
    notebook = json.loads((results / "report.ipynb").read_text())
    injected = next(c for c in notebook["cells"] if "injected-parameters" in c["metadata"].get("tags", []))
    assert "dummy.csv" in "".join(injected["source"])

    from study import layout, plan
    from study.config import load_config
    from study.reporting import publish

    monkeypatch.setattr(layout, "TABLES", (*layout.TABLES, eval(DUMMY, vars(layout))))
    assert "dummy.csv" in publish.published_tables()
    config = load_config([REPO / "config" / "config.yaml"])
    assert "dummy.csv" in plan.plan_text(config, layout.Layout("results"), None, "", local=False)
    assert "dummy.csv" in [table.file for table in tables()], "the tests list the registry's tables"
