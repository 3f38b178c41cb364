import math

import pandas as pd
import pytest
from conftest import REPO

from study import plan
from study.config import load_config
from study.layout import Layout
from study.specs import training_flops

SPEEDS = pd.DataFrame(
    [
        {"cpu": "no_amx", "backend": "tensorflow", "precision": "float32", "model": "small", "forward_flops": 1e6}
        | {"gflops": 10.0, "cores": 2},
        {"cpu": "no_amx", "backend": "tensorflow", "precision": "float32", "model": "big", "forward_flops": 1e9}
        | {"gflops": 100.0, "cores": 2},
    ]
)


def only(config: dict, variant: str) -> dict:
    return config | {"variants_to_train": [variant]}


@pytest.fixture
def config():
    return load_config([REPO / "config" / "config.yaml"])


def test_the_plan_counts_the_jobs_of_every_rule(config):
    counts = plan.job_counts(config)
    assert counts == {
        "download": 5,
        "prepare": 2,
        "channel_stats": 2,
        "protocol": 1,
        "preflight": 10,
        "train": 700,  # at most: 10 variants x 70 seeds, every look taken
        "restored_run": 0,
        "look": 3,
        "aggregate": 1,
        "sensitivity": 1,
        "lecture_cell": 1,
        "params": 1,
        "report": 1,
        "report_pdf": 1,
        "tracking": 1,
    }
    checked = config | {"stability": {"seeds": [7, 8], "variants": ["cifar_12conv_relu"]}}
    assert plan.job_counts(checked)["train"] == 702
    looked = config | {"seeds": list(range(11, 31)), "design": config["design"] | {"looks": [5, 10, 20]}}
    assert plan.job_counts(looked)["train"] == 200  # at most: every look taken
    assert plan.job_counts(looked)["look"] == 3
    grid = {"variants": ["cifar_12conv_relu"], "grid": {"learning_rate": [0.001, 0.002], "width": [0.25, 0.5]}}
    mapped = config | {"sensitivity": grid | {"seeds": [1, 2, 3], "lecture": {}}}
    counts = plan.job_counts(mapped)
    assert (counts["train"], counts["preflight"]) == (700 + 4 * 3, 10 + 4)  # every cell x seed, a preflight a cell
    restored = mapped | {"restore": {"facts": "published/facts.tar.xz", "stages": ["sensitivity"]}}
    counts = plan.job_counts(restored)
    assert (counts["train"], counts["preflight"], counts["restored_run"]) == (700, 10, 4 * 3), "none trained again"


def test_training_hours_use_the_nearest_measured_rate_and_skip_finished_runs(config, tmp_path, monkeypatch):
    monkeypatch.setattr(plan.os, "cpu_count", lambda: 4)
    config = config | {"seeds": [1, 2, 3], "design": config["design"] | {"looks": []}}
    variant = "cifar_12conv_relu"  # about 0.6 GFLOP forward per image: nearest to "big"
    spec = config["variants"][variant]
    one_run = training_flops(spec, (32, 32, 3), 10, 50000) / (100e9 / 2 * 4) / 3600
    assert plan.training_hours(only(config, variant), SPEEDS, None) == pytest.approx(3 * one_run)
    (tmp_path / "runs" / variant / "seed_2").mkdir(parents=True)
    (tmp_path / "runs" / variant / "seed_2" / "metrics.json").write_text("{}")
    assert plan.training_hours(only(config, variant), SPEEDS, Layout(str(tmp_path))) == pytest.approx(2 * one_run)
    checked = config | {"stability": {"seeds": [7, 8], "variants": [variant]}}
    assert plan.training_hours(only(checked, variant), SPEEDS, Layout(str(tmp_path))) == pytest.approx(4 * one_run)
    subset = config | {"subset": {"train": 5000}}
    assert plan.training_hours(only(subset, variant), SPEEDS, None) == pytest.approx(3 * one_run / 10)


def test_the_default_design_reaches_the_seeds_every_claim_needs_for_80_percent_power(config):
    from study.analysis.claims import planned_seeds

    planned = planned_seeds(config)
    assert len(planned) == len(config["claims"]) and planned["seeds_needed"].notna().all()
    assert planned["seeds_needed"].max() <= config["design"]["looks"][-1] == len(config["seeds"])
    # the contrasts need most: Holm's first step, after Bonferroni over the three looks
    assert planned["level"].min() == pytest.approx(0.05 / (3 * 11))
    text = plan.plan_text(config, Layout(str(REPO / "no-results")), None, "")
    assert f"need at most {planned['seeds_needed'].max()} seeds per variant" in text
    assert "the seeds reach 70: enough for every claim." in text


def test_a_design_with_too_few_seeds_names_the_claims_that_may_end_undetermined(config):
    few = config | {"seeds": [201, 202, 203], "design": config["design"] | {"looks": []}}
    text = plan.power_text(few)
    assert "the seeds reach 3. Too few for 11, which may end undetermined: " in text
    assert "the 12-conv ReLU net does not learn (19)" in text


def test_a_long_cpu_study_points_to_the_quick_profile(config, monkeypatch):
    monkeypatch.setattr(plan, "has_gpu", lambda: False)
    monkeypatch.setattr(plan, "speeds_for_this_cpu", lambda training, flags: SPEEDS.assign(measured_on="a test CPU"))
    quick = load_config([REPO / "config" / "config.yaml", REPO / "config" / "quick.yaml"])
    text = plan.plan_text(config, Layout(str(REPO / "no-results")), quick, "make study QUICK")
    jobs = sum(plan.job_counts(config).values())
    assert text.startswith(
        f"Study plan: at most {jobs} jobs (download 5, prepare 2, channel_stats 2, protocol 1, preflight 10, "
        "train 700, restored_run 0, look 3"
    )
    hours = float(text.split("about ")[1].split(" hours")[0])
    assert hours > plan.LONG_ON_A_CPU_HOURS and "make study QUICK" in text
    quick_hours = float(text.split("about ")[2].split(" hours")[0])
    assert quick_hours < hours / 10
    assert "QUICK" not in plan.plan_text(quick, Layout(str(REPO / "no-results")), None, "make study QUICK")


def test_on_a_cluster_or_under_jax_there_is_no_estimate_from_this_cpu(config):
    assert "Jobs run on the cluster's nodes: no estimate" in plan.plan_text(
        config, Layout(str(REPO)), None, "", local=False
    )
    jax = config | {"training": config["training"] | {"backend": "jax"}}
    assert plan.speeds_for_this_cpu(jax["training"], {"avx2"}).empty


def test_with_a_gpu_there_is_no_estimate(config, monkeypatch):
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "0")
    text = plan.plan_text(config, Layout(str(REPO / "no-results")), None, "")
    assert "no speed has been measured on GPUs yet" in text and "hours" not in text
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")
    assert not plan.has_gpu()


def test_the_measured_speeds_cover_both_kinds_of_cpu():
    speeds = pd.read_csv(plan.MEASURED_SPEEDS)
    assert set(zip(speeds["cpu"], speeds["precision"], strict=True)) == {
        ("amx", "mixed_bfloat16"),
        ("no_amx", "float32"),
    }
    assert (speeds["gflops"] > 0).all() and not math.isnan(speeds["forward_flops"].sum())


def test_the_plan_counts_a_job_for_every_rule_of_the_workflow_that_makes_files(config, tmp_path):
    import subprocess

    from conftest import SNAKEMAKE

    listed = subprocess.run(
        [SNAKEMAKE, "--list-rules", "--snakefile", str(REPO / "workflow" / "Snakefile")]
        + ["--directory", str(tmp_path), "--configfile", str(REPO / "config" / "config.yaml")],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    assert set(plan.job_counts(config)) == set(listed) - {"all"}, "'all' only asks for the report"
