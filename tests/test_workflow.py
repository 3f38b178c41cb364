"""The real workflow, run by the snakemake command line on tiny data served over loopback HTTP."""

import json
import re
import shutil
import subprocess
import zipfile

import numpy as np
import pandas as pd
import pytest
import yaml
from conftest import LOCAL, REPO, run_locally, workflow_command
from fakedata import serve, write_cifar10, write_cifar100, write_fashion_mnist
from trackers import curve_tags, hparams_sessions

from study.config import load_config, merge_layers
from study.layout import RUN_FACTS, sensitivity_runs, tables
from study.rejudge import REJUDGED_RULES

LECTURE_VARIANTS = ["fmnist_2conv_sigmoid", "cifar_12conv_relu_standardize"]
# A variant added by config alone, with a learning rate that makes it diverge.
DIVERGING = {"dataset": "fashion_mnist", "blocks": [[8]], "activation": "relu", "learning_rate": 1.0e20}
VARIANTS = [*LECTURE_VARIANTS, "diverging"]
SEEDS = [1, 2]
STABILITY = {"seeds": [3], "variants": ["fmnist_2conv_sigmoid"]}  # one more cheap run, checked against seeds 1-2
# a 2 x 2 map of the cheapest variant, one seed a cell; the lecture's cell (epochs 20) is not on it
SENSITIVITY = {
    "variants": ["fmnist_2conv_sigmoid"],
    "grid": {"learning_rate": [0.001, 0.003], "epochs": [1, 2]},
    "seeds": [4],
    "lecture": {"learning_rate": 0.001, "epochs": 20},
}
# the lecture's own cell of one variant, one seed, on images of its own count
LECTURE_CELL = {
    "variants": ["cifar_12conv_relu_standardize"],
    "settings": {"width": 0.5, "learning_rate": 0.002, "subset": {"train": 100, "val": 40}},
    "seeds": [401],
}
CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"
FIGURES = [
    "claims",
    "fixes",
    "sensitivity",
    "loss_by_step",
    "learning_curves",
    "final_accuracy",
    "gradient_by_depth",
    "unit_health",
]
# What a reader would stop at in the report's visible text: a value no one formatted.
UNFORMATTED = re.compile(r"(?<![\w<])(?:nan|NaN|None|<NA>|True|False)(?![\w>])")


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    work = tmp_path_factory.mktemp("study")
    mirror = work / "mirror"
    files = {
        "fashion_mnist": write_fashion_mnist(mirror / "fashion_mnist"),
        "cifar10": write_cifar10(mirror / "cifar10"),
    }
    with serve(mirror) as url:
        config = {
            "mirror": url,
            "seeds": SEEDS,
            "design": {"looks": []},  # one look: config.yaml's looks are for its 70 seeds
            "stability": STABILITY,
            "sensitivity": SENSITIVITY,
            "lecture_cell": LECTURE_CELL,
            "variants_to_train": VARIANTS,
            "subset": {"train": 150, "val": 40},
            "datasets": {name: {"files": checksums} for name, checksums in files.items()},
            "variants": {name: {"epochs": 1, "batch_size": 64} for name in LECTURE_VARIANTS}
            | {"diverging": DIVERGING | {"epochs": 2, "batch_size": 64}},
            "preflight": {"init_images": 40, "steps": 15},
            "diagnostics": {"probe_images": 32, "step_interval": 1},
            # any variant can be a baseline; this one puts the ranking's table and figure in the report
            "fix_ranking": {"baseline": "fmnist_2conv_sigmoid", "variants": ["cifar_12conv_relu_standardize"]},
        }
        # a first attempt under other rules stops before training: it fixes nothing
        (work / "early.yaml").write_text(yaml.safe_dump(merge_layers(config, {"design": {"alpha": 0.1}})))
        early = subprocess.run(
            workflow_command(work, work / "early.yaml", *LOCAL, "--", "results/protocol.json"),
            capture_output=True,
            text=True,
        )
        assert early.returncode == 0, early.stderr[-3000:]
        (work / "test.yaml").write_text(yaml.safe_dump(config))
        return run_locally(work, work / "test.yaml", timeout=900)


def test_every_output_exists(study):
    for dataset, names in {
        "fashion_mnist": ["train-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"],
        "cifar10": ["cifar-10-binary.tar.gz"],
    }.items():
        for name in names:
            assert (study / "downloads" / dataset / name).is_file()
        for array in ["train_images", "train_labels", "val_images", "val_labels"]:
            assert np.load(study / "data" / dataset / f"{array}.npy", mmap_mode="r").dtype == np.uint8
        stats = json.loads((study / "stats" / f"{dataset}.json").read_text())
        assert len(stats["mean"]) == len(stats["std"]) == (1 if dataset == "fashion_mnist" else 3)
    for variant in VARIANTS:
        for seed in SEEDS:
            run = study / "runs" / variant / f"seed_{seed}"
            for name in ["history.csv", "steps.csv", "diagnostics.csv", "metrics.json", "model.keras"]:
                assert (run / name).stat().st_size > 0
            assert (study / "benchmarks" / "train" / variant / f"seed_{seed}.tsv").is_file()
            log = (study / "logs" / "train" / variant / f"seed_{seed}.log").read_text()
            assert re.search(r"training \w+ seed \d+ on CPU", log)
        preflight = json.loads((study / "preflight" / f"{variant}.json").read_text())
        assert preflight["overfit"]["steps"] == 15 and len(preflight["overfit"]["loss"]) == 15
        assert preflight["initial_loss"] > 0
    for name in [table.file for table in tables()]:
        assert (study / "tables" / name).is_file()
    assert (study / "report.ipynb").is_file()
    assert (study / "report.pdf").read_bytes()[:5] == b"%PDF-", "Chromium is installed here, so the PDF is printed"


def planned_jobs(work, layer: dict) -> dict[str, int]:
    """The jobs a dry run (-n) of the finished study in ``work`` would run under the test's config with
    ``layer`` over it, by rule."""
    config = yaml.safe_load((work / "test.yaml").read_text())
    (work / "changed.yaml").write_text(yaml.safe_dump(merge_layers(config, layer)))
    result = subprocess.run(
        workflow_command(work, work / "changed.yaml", "-n", "--cores", "1"), capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    stats = result.stdout[result.stdout.index("Job stats:") :] if "Job stats:" in result.stdout else ""
    return {m[1]: int(m[2]) for m in re.finditer(r"^(\w+)\s+(\d+)$", stats, re.MULTILINE) if m[1] != "total"}


JUDGEMENT_CHANGES = {
    "outcomes": {"plateau_margin": 0.10, "windows": 1, "overfit_gap": 0.3, "causes": {"dead_fraction": 0.5}},
    "design": {"alpha": 0.01, "rate_threshold": 0.6, "minimal_effect": {"rate_difference": 0.3}},
    "preflight": {"initial_loss_band": 0.1, "overfit_accuracy": 0.9, "stop_failed": True},
    "variants": {"fmnist_2conv_sigmoid": {"lecture": {"says": "reworded: it learns"}}},
    "claims": [{"claim": "a new claim", "expect": "does_not_learn", "variant": "diverging"}],
}


def test_a_change_of_how_runs_are_judged_retrains_nothing(study):
    jobs = planned_jobs(study.parent, JUDGEMENT_CHANGES)
    assert jobs and not {"train", "preflight", "prepare", "download"} & set(jobs), jobs
    assert {"aggregate", "report"} <= set(jobs), jobs
    # while a change of what a run trains on retrains it
    assert planned_jobs(study.parent, {"variants": {"diverging": {"learning_rate": 1.0e19}}})["train"] == len(SEEDS)


def test_the_protocol_is_fixed_before_the_runs_and_every_run_records_it(study):
    protocol = json.loads((study / "protocol.json").read_text())
    # rewritten under the study's rules, since the attempt before it trained nothing; frozen by its first run
    assert protocol["protocol"]["design"]["alpha"] == 0.05 and not (study / "protocol.json").stat().st_mode & 0o222
    for metrics in (study / "runs").glob("*/seed_*/metrics.json"):
        assert json.loads(metrics.read_text())["protocol_sha256"] == protocol["sha256"]
    assert json.loads((study / "tables" / "provenance.json").read_text())["protocol"]["fixed"]
    assert set(pd.read_csv(study / "tables" / "claims.csv")["protocol"]) == {"confirmatory"}
    assert "Protocol fixed before the runs" in (study / "report.html").read_text()


def test_a_protocol_changed_after_the_runs_is_flagged_and_its_claims_are_exploratory(study, tmp_path):
    work = tmp_path / "changed"
    shutil.copytree(study.parent, work, symlinks=True)
    config = yaml.safe_load((work / "test.yaml").read_text())
    changed = merge_layers(config, {"design": {"alpha": 0.01}})
    (work / "changed.yaml").write_text(yaml.safe_dump(changed))
    results = run_locally(work, work / "changed.yaml", timeout=600)
    output = (work / "run.out").read_text()
    assert "rule train" not in output and "rule aggregate" in output
    assert set(pd.read_csv(results / "tables" / "claims.csv")["protocol"]) == {"exploratory"}
    html = (results / "report.html").read_text()
    assert "The protocol changed after the first run." in html and "(exploratory)" in html


def test_the_plan_is_printed_before_the_first_job(study):
    output = (study.parent / "run.out").read_text()
    plan = output.index("Study plan: ")
    assert plan < re.search(r"^(local)?rule \w+:", output, re.MULTILINE).start()
    assert "train 12" in output[plan:] and "for 3 variants x 2 seeds, and 1 runs of a stability" in output[plan:]


def test_subset_is_class_stratified(study):
    meta = json.loads((study / "data" / "cifar10" / "meta.json").read_text())
    assert meta["train"]["images"] == 200
    metrics = json.loads((study / "runs" / "cifar_12conv_relu_standardize" / "seed_1" / "metrics.json").read_text())
    assert metrics["train_images"] == 150 and metrics["val_images"] == 40
    assert metrics["data"]["train_class_counts"] == [15] * 10
    assert metrics["data"]["val_class_counts"] == [4] * 10


def test_diverging_variant_is_marked_and_the_study_goes_on(study):
    summary = pd.read_csv(study / "tables" / "summary.csv").set_index("variant")
    assert summary.loc["diverging", "outcome"] == "diverged"
    assert summary.loc["diverging", "outcomes"] == "diverged 2/2"
    runs = pd.read_csv(study / "tables" / "runs.csv")
    assert runs.loc[runs["variant"] == "diverging", "outcome"].tolist() == ["diverged"] * len(SEEDS)
    assert "diverging" in (study / "report.html").read_text()


def test_claims_are_computed(study):
    claims = pd.read_csv(study / "tables" / "claims.csv").set_index("claim")
    assert len(claims) == 11
    fmnist = claims.loc["Fashion-MNIST: the 2-conv sigmoid net learns"]
    assert fmnist["n_seeds"] == 2 and fmnist["seeds"] == "1 2"
    assert fmnist["verdict"] in {"confirmed", "refuted", "undetermined"}
    # two seeds settle nothing: at most 2/2, whose p is 2/4 before any adjustment
    assert fmnist["verdict"] == "undetermined" and fmnist["seeds_needed"] >= 3
    not_run = claims.loc["the 6-conv sigmoid net does not learn"]
    assert not_run["verdict"] == "not run" and "not run" in not_run["reason"] and pd.isna(not_run["p_adjusted"])
    html = (study / "report.html").read_text()
    assert (
        "Fashion-MNIST: the 2-conv sigmoid net learns" in html
        and "evidence (interval at the level Holm tests it at)" in html
    )


def test_steps_outcomes_causes_and_the_fix_ranking_reach_the_tables_and_the_report(study):
    steps = pd.read_csv(study / "tables" / "steps.csv")
    standardize = steps[(steps["variant"] == "cifar_12conv_relu_standardize") & (steps["seed"] == 1)]
    assert standardize["step"].tolist() == [1, 2, 3]  # 150 images in batches of 64, a row every step
    runs = pd.read_csv(study / "tables" / "runs.csv")
    small = "vanishing gradients (uniformly small at every layer)"
    assert set(runs["cause"]) <= {"vanishing gradients", small, "dead units", "saturation", "none"}
    judged_at_chance = {"learns in training mode only", "memorizes"}
    assert set(runs["outcome"]) <= {"learns", "overfits", "stuck", "undecided", "diverged", *judged_at_chance}
    fixes = pd.read_csv(study / "tables" / "fixes.csv")
    assert fixes["variant"].tolist() == ["fmnist_2conv_sigmoid", "cifar_12conv_relu_standardize"]
    calibration = pd.read_csv(study / "tables" / "preflight_calibration.csv")
    assert (calibration["runs"] == len(VARIANTS) * len(SEEDS)).all()
    html = (study / "report.html").read_text()
    assert "Which fix works best" in html and "causes across seeds" in html
    assert "How far each pre-flight check can be trusted" in html


def test_the_stability_check_tests_the_claims_on_its_own_seeds_and_reaches_the_report(study):
    seeds = {f"seeds_{side}": str for side in ("first", "second", "pooled")}
    stability = pd.read_csv(study / "tables" / "stability.csv", dtype=seeds).set_index("claim")
    claim = stability.loc["Fashion-MNIST: the 2-conv sigmoid net learns"]
    assert (claim["seeds_first"], claim["seeds_second"], claim["seeds_pooled"]) == ("1 2", "3", "1 2 3")
    assert claim["agreement"] in {"differ", "no evidence they differ"}
    assert len(stability) == 1  # the other claims involve variants not trained on seed 3
    runs = pd.read_csv(study / "tables" / "runs.csv")
    assert set(runs["seed"]) == set(SEEDS)  # the stability runs enter only the stability table
    html = (study / "report.html").read_text()
    assert "Do the claims hold on other seeds?" in html and "also trained on seeds 3" in html


def test_a_2x2_sensitivity_map_runs_end_to_end_and_reaches_the_report(study):
    rates = pd.read_csv(study / "tables" / "sensitivity.csv")
    assert sorted(zip(rates["learning_rate"], rates["epochs"], strict=True)) == [
        (0.001, 1),
        (0.001, 2),
        (0.003, 1),
        (0.003, 2),
    ]
    assert (rates["n_seeds"] == 1).all() and rates["profile_cell"].sum() == 1  # the study's own lr 0.001, 1 epoch
    cell = "fmnist_2conv_sigmoid.epochs-2_learning_rate-0.003"  # the grid keys in the layer's (sorted) order
    assert json.loads((study / "runs" / cell / "seed_4" / "metrics.json").read_text())["run"]["spec"]["epochs"] == 2
    claims = pd.read_csv(study / "tables" / "sensitivity_claims.csv")
    trend = (
        "fewer runs of fmnist_2conv_sigmoid learn as epochs increases"  # the grid's first key, as the layer sorts it
    )
    assert set(claims["claim"]) == {"Fashion-MNIST: the 2-conv sigmoid net learns", trend} and len(claims) == 5
    assert claims.loc[claims["claim"] == trend, "cell"].tolist() == ["all"]
    assert (study / "figures" / "sensitivity.png").is_file()
    html = (study / "report.html").read_text()
    assert "Where the story holds: the sensitivity map" in html and "confirmed in 0 of 4 cells" in html
    assert "is not a cell of the map: it was not measured here" in html


def test_the_lecture_cell_trains_on_its_own_images_and_seeds_and_is_shown_run_by_run(study):
    run = study / "runs" / "cifar_12conv_relu_standardize.lecture" / "seed_401"
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["train_images"] == 100 and metrics["run"]["subset"] == {"train": 100, "val": 40}
    assert metrics["run"]["spec"]["width"] == 0.5 and "subset" not in metrics["run"]["spec"]
    cell = pd.read_csv(study / "tables" / "lecture_cell.csv")
    assert cell[["variant", "seed", "train_images", "planned_steps"]].values.tolist() == [
        ["cifar_12conv_relu_standardize", 401, 100, 2]
    ]
    assert cell["outcome_reason"].iloc[0] and cell["steps"].iloc[0] <= 2
    html = (study / "report.html").read_text()
    assert "The lecture&#39;s own cell" in html or "The lecture's own cell" in html
    assert "on seeds 401" in html and "they confirm nothing" in html


def test_tensorboard_lists_every_run_in_its_hparams_dashboard_with_its_variant_seed_and_outcome(study):
    sessions = hparams_sessions(study / "tensorboard")
    trained = {(run.parent.name, int(run.name.removeprefix("seed_"))) for run in (study / "runs").glob("*/seed_*")}
    assert (
        set(sessions) == trained and len(trained) == len(VARIANTS) * len(SEEDS) + 1 + 4 + 1
    )  # stability, map, lecture
    for run in pd.read_csv(study / "tables" / "runs.csv").itertuples():
        session = sessions[(run.variant, run.seed)]
        assert (session["outcome"], session["cause"], session["dataset"]) == (run.outcome, run.cause, run.dataset)
        assert session["final_train_accuracy"] == pytest.approx(run.final_train_accuracy)
    assert (
        sessions[("diverging", 1)]["learning_rate"] == 1.0e20 and sessions[("diverging", 1)]["backend"] == "tensorflow"
    )
    curves = curve_tags(study / "runs" / "diverging" / "seed_1")
    assert "train/epoch_loss" in curves and any(tag.startswith("diagnostics/gradient_norm/") for tag in curves)


def test_diagnostics_table_covers_every_run(study):
    diagnostics = pd.read_csv(study / "tables" / "diagnostics.csv")
    assert set(diagnostics["variant"]) == set(VARIANTS)
    grads = diagnostics[(diagnostics["statistic"] == "gradient_norm") & (diagnostics["epoch"] == 0)]
    layers = grads[(grads["variant"] == "cifar_12conv_relu_standardize") & (grads["seed"] == 1)]
    assert len(layers) == 12 + 2  # every conv, the Dense-512 and the softmax layer
    preflight = pd.read_csv(study / "tables" / "preflight.csv")
    assert sorted(preflight["variant"]) == sorted(VARIANTS)


def test_summary_agrees_with_epochs(study):
    summary = pd.read_csv(study / "tables" / "summary.csv").set_index("variant")
    epochs = pd.read_csv(study / "tables" / "epochs.csv")
    assert list(summary.index) == VARIANTS
    assert len(epochs) == len(LECTURE_VARIANTS) * len(SEEDS) * 1 + len(epochs[epochs["variant"] == "diverging"])
    for variant, row in summary.loc[LECTURE_VARIANTS].iterrows():
        last = epochs[epochs["variant"] == variant].sort_values("epoch").groupby("seed").tail(1)
        assert row["n_seeds"] == 2
        assert row["final_train_accuracy_mean"] == pytest.approx(last["train_accuracy"].mean())
        assert row["final_val_accuracy_mean"] == pytest.approx(last["val_accuracy"].mean())
        assert row["final_val_accuracy_std"] == pytest.approx(last["val_accuracy"].std(ddof=1), nan_ok=True)
        assert row["seconds_per_epoch"] == pytest.approx(epochs[epochs["variant"] == variant]["seconds"].mean())
    assert summary.loc["cifar_12conv_relu_standardize", "params"] == 8_873_994
    assert summary.loc["fmnist_2conv_sigmoid", "lecture_says"].startswith("learns")


def test_params_table_matches_the_lecture(study):
    params = pd.read_csv(study / "tables" / "params.csv")
    references = params[params["kind"] == "lecture reference"]
    assert references["params"].tolist() == [134_301_514, 21_034_826]
    assert references["matches_lecture"].all()
    assert params[params["kind"] == "variant"]["model"].tolist() == VARIANTS


def test_provenance(study):
    provenance = json.loads((study / "tables" / "provenance.json").read_text())
    assert re.fullmatch(r"[0-9a-f]{40}(-dirty)?|unknown.*", provenance["git_commit"])
    assert provenance["devices"][0].startswith("CPU: ")
    assert provenance["data"]["cifar10"]["sources"]["cifar-10-binary.tar.gz"]["sha256"]
    assert provenance["config"]["variants_to_train"] == VARIANTS


def test_report_is_complete_and_offline(study):
    html = (study / "report.html").read_text()
    for heading in [
        "The lecture against the reproduction",
        "Learning curves",
        "Final accuracy per variant",
        "Per-channel statistics",
        "Parameter counts",
        "Provenance",
    ]:
        assert heading in html
    # the lecture's numbers stand beside ours only with both recipes
    assert "lecture&#x27;s recipe (one run)" in html or "lecture's recipe (one run)" in html
    assert "Adam lr 0.001, batch 64, 150 images, 1 epoch (3 steps)" in html
    for variant in VARIANTS:
        assert variant in html
    assert "134301514" in html.replace(",", "")
    assert len(re.findall(r'<img[^>]+src="data:image/png;base64,', html)) >= 4
    external = re.findall(r'(?:src|href)\s*=\s*["\'](?:https?:)?//', html) + re.findall(r"@import\s+url", html)
    assert external == []
    assert "<script src" not in html
    assert "import pandas" not in html, "code cells must be hidden"


CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--window-size=1400,900",
]


def notebook_headings() -> list[str]:
    """Every section heading the report notebook writes."""
    notebook = json.loads((REPO / "workflow" / "notebooks" / "report.ipynb").read_text())
    lines = ("".join(cell["source"]).splitlines() for cell in notebook["cells"] if cell["cell_type"] == "markdown")
    return [line.lstrip("#").strip() for cell in lines for line in cell if line.startswith("#")]


def test_the_report_renders_offline_in_a_real_browser(study, tmp_path):
    from selenium import webdriver

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in [*CHROMIUM_FLAGS, f"--user-data-dir={tmp_path / 'profile'}"]:
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
    driver = webdriver.Chrome(service=webdriver.ChromeService(CHROMEDRIVER), options=options)
    url = (study / "report.html").as_uri()
    try:
        driver.get(url)
        # a 1400 x 900 page, whatever the window's own frame takes
        frame = driver.execute_script("return [outerWidth - innerWidth, outerHeight - innerHeight]")
        driver.set_window_size(1400 + frame[0], 900 + frame[1])
        viewport = driver.execute_script("return [window.innerWidth, window.innerHeight]")
        assert viewport == [1400, 900]
        driver.save_screenshot(str(tmp_path / "first-screen.png"))
        first_screen = driver.execute_script(
            "const box = e => e.getBoundingClientRect();"
            "return [box(document.querySelector('ol.ladder')), box(document.querySelector('.study-first img'))]"
            ".map(b => [b.top, b.bottom, b.height])"
        )
        details = driver.execute_script(
            "const all = document.querySelectorAll('details'); all.forEach(d => d.open = true);"
            "return [all.length, Array.from(all).filter(d => d.open).length]"
        )
        text = driver.execute_script("return document.body.innerText")
        images = driver.execute_script(
            "return Promise.all(Array.from(document.images, i => i.decode().then(() => [i.alt, i.naturalWidth])))"
        )
        headings = driver.execute_script(
            "return Array.from(document.querySelectorAll('h1, h2, h3'), h => h.textContent.replace('¶', '').trim())"
        )
        console = [entry for entry in driver.get_log("browser") if entry["level"] == "SEVERE"]
        events = [json.loads(entry["message"])["message"] for entry in driver.get_log("performance")]
        height = driver.execute_script("return document.documentElement.scrollHeight")
        driver.set_window_size(1400, min(height + 100, 20000))
        driver.save_screenshot(str(tmp_path / "report.png"))
    finally:
        driver.quit()
    # the first screen shows the ladder of claims and their forest plot, whole
    for top, bottom, size in first_screen:
        assert size > 0 and 0 <= top and bottom <= viewport[1], (first_screen, viewport)
    assert (tmp_path / "first-screen.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # every claim's evidence, the runs and the configuration are folded, and open
    assert details[0] >= 11 + 3 and details[0] == details[1]
    assert "The configuration this run resolved" in text and "the claim's net" in text
    unformatted = [text[max(0, m.start() - 60) : m.end() + 20] for m in UNFORMATTED.finditer(text)]
    assert unformatted == []
    # Chromium's own start page loads chrome:// resources; the report's requests carry its URL as documentURL.
    requests = [e["params"] for e in events if e["method"] == "Network.requestWillBeSent"]
    by_report = {r["request"]["url"] for r in requests if r["documentURL"] == url}
    assert console == []
    assert {u for u in by_report if not u.startswith("data:")} == {url}, "nothing but the file itself is fetched"
    assert not [r["request"]["url"] for r in requests if r["request"]["url"].startswith(("http:", "https:"))]
    assert len(images) == len(FIGURES) and all(len(alt) > 40 and width > 0 for alt, width in images), images
    assert set(notebook_headings()) <= set(headings)
    assert (tmp_path / "report.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_unformatted_values_are_caught_where_a_reader_would_see_them():
    assert UNFORMATTED.findall("cause: None; p nan; NaN; <NA>; True, False") == [
        "None",
        "nan",
        "NaN",
        "<NA>",
        "True",
        "False",
    ]
    assert UNFORMATTED.findall("nanoGPT, Nonexistent, Falsehood, an infinite or undefined (not-a-number) loss") == []


def test_snakemakes_own_report_bundles_the_report_tables_and_figures(study):
    work = study.parent
    bundle = work / "bundle.zip"
    result = subprocess.run(
        workflow_command(work, work / "test.yaml", "--report", str(bundle)), capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr[-3000:]
    names = zipfile.ZipFile(bundle).namelist()
    for name in ["report.html", "summary.csv", "claims.csv", "epochs.csv", "preflight.csv", "params.csv"]:
        assert any(n.endswith(f"/{name}") for n in names), name
    figures = {n.rsplit("/", 1)[-1] for n in names if n.endswith(".png")}
    assert figures >= {f"{name}.png" for name in FIGURES}


# A study in two looks: one claim settles at the first look, the other cannot (its variants never learn, so
# neither beats the other), and only its variants get the second look's seed. Every variant diverges at once.
LOOK_VARIANTS = ["diverging", "diverging_b", "diverging_c"]
LOOK_CLAIMS = [
    # 0 of 4 learn: p = 2/16, times 2 looks = 0.25, at alpha 0.25: refuted at look 1
    {"claim": "the diverging net learns", "expect": "learns", "variant": "diverging"},
    {
        "claim": "b beats c",
        "expect": "better_than",
        "variant": "diverging_b",
        "baseline": "diverging_c",
        "family": "bc",
    },
]


@pytest.fixture(scope="module")
def looked_study(tmp_path_factory):
    work = tmp_path_factory.mktemp("looks")
    mirror = work / "mirror"
    files = {"fashion_mnist": write_fashion_mnist(mirror / "fashion_mnist")}
    with serve(mirror) as url:
        config = {
            "mirror": url,
            "seeds": [11, 12, 13, 14, 15],
            "design": {"alpha": 0.25, "looks": [4, 5], "exploration_seeds": [1, 2]},
            "variants_to_train": LOOK_VARIANTS,
            "subset": {"train": 150, "val": 40},
            "datasets": {"fashion_mnist": {"files": files["fashion_mnist"]}},
            "variants": {name: DIVERGING | {"epochs": 1, "batch_size": 64} for name in LOOK_VARIANTS},
            "preflight": {"init_images": 40, "steps": 5},
            "diagnostics": {"probe_images": 32},
            "claims": LOOK_CLAIMS,
            "fix_ranking": None,
        }
        (work / "test.yaml").write_text(yaml.safe_dump(config))
        return run_locally(work, work / "test.yaml", timeout=900)


def test_a_claim_undetermined_after_a_look_gets_the_next_looks_seeds_and_a_settled_one_none(looked_study):
    trained = re.findall(r"wildcards: variant=(\w+), seed=(\d+)", (looked_study.parent / "run.out").read_text())
    assert sorted({(v, int(s)) for v, s in trained}) == sorted(
        [(v, s) for v in LOOK_VARIANTS for s in (11, 12, 13, 14)] + [("diverging_b", 15), ("diverging_c", 15)]
    )
    first = json.loads((looked_study / "looks" / "look_1.json").read_text())
    assert first["next_variants"] == ["diverging_b", "diverging_c"] and not first["stop"]
    claims = pd.read_csv(looked_study / "tables" / "claims.csv").set_index("claim")
    settled = claims.loc["the diverging net learns"]
    assert (settled["verdict"], settled["settled_at_look"], settled["p_looks"]) == ("refuted", 1, 0.25)
    assert settled["n_seeds"] == 4  # no more seeds once settled
    assert claims.loc["b beats c", "n_seeds"] == 5 and claims["looks_taken"].eq(2).all()
    looks = pd.read_csv(looked_study / "tables" / "looks.csv")
    assert looks["look"].tolist() == [1, 1, 2, 2]
    html = (looked_study / "report.html").read_text()
    assert "look 1 (4 seeds per variant)" in html and "Bonferroni over the planned looks" in html


# Three datasets from one mirror, a folder each: MNIST and Fashion-MNIST, whose files share their names, and
# CIFAR-100 as config/cifar100.yaml adds it (with its variant and, under extend, its claim).
@pytest.fixture(scope="module")
def datasets_study(tmp_path_factory):
    work = tmp_path_factory.mktemp("datasets")
    mirror = work / "mirror"
    files = {
        "fashion_mnist": write_fashion_mnist(mirror / "fashion_mnist", seed=0),
        "mnist": write_fashion_mnist(mirror / "mnist", seed=5),
        "cifar100": write_cifar100(mirror / "cifar100"),
    }
    with serve(mirror) as url:
        test = {
            "mirror": url,
            "seeds": [1],
            "design": {"looks": []},  # one look: config.yaml's looks are for its 70 seeds
            "variants_to_train": ["fmnist_2conv_sigmoid", "mnist_2conv_sigmoid", "cifar100_6conv_relu"],
            "subset": {"train": 200, "val": 100},
            "datasets": {
                "fashion_mnist": {"files": files["fashion_mnist"]},
                "mnist": {"format": "idx", "url": "https://example.invalid/mnist", "files": files["mnist"]},
                "cifar100": {"files": files["cifar100"]},
            },
            "variants": {
                "fmnist_2conv_sigmoid": {"epochs": 1, "batch_size": 64},
                "mnist_2conv_sigmoid": {"dataset": "mnist", "blocks": [[8]], "activation": "sigmoid", "epochs": 1},
                "cifar100_6conv_relu": {"width": 0.125, "dense": [32], "epochs": 1, "batch_size": 64},
            },
            "preflight": {"init_images": 100, "steps": 5},
            "diagnostics": {"probe_images": 32, "step_interval": 1},
            "fix_ranking": None,
        }
        layer = yaml.safe_load((REPO / "config" / "cifar100.yaml").read_text())
        (work / "test.yaml").write_text(yaml.safe_dump(merge_layers(layer, test)))
        return run_locally(work, work / "test.yaml", timeout=900), mirror


def test_a_cifar100_layer_and_mnist_beside_fashion_mnist_run_from_one_mirror(datasets_study):
    results, mirror = datasets_study
    classes = {
        name: json.loads((results / "data" / name / "meta.json").read_text())["classes"] for name in files_of(results)
    }
    assert classes == {"cifar100": 100, "fashion_mnist": 10, "mnist": 10}
    name = "train-images-idx3-ubyte.gz"
    for dataset in ("mnist", "fashion_mnist"):
        assert (results / "downloads" / dataset / name).read_bytes() == (mirror / dataset / name).read_bytes()
    assert (mirror / "mnist" / name).read_bytes() != (mirror / "fashion_mnist" / name).read_bytes()
    metrics = json.loads((results / "runs" / "cifar100_6conv_relu" / "seed_1" / "metrics.json").read_text())
    assert metrics["classes"] == 100 and metrics["train_images"] == 200
    claims = pd.read_csv(results / "tables" / "claims.csv")
    assert len(claims) == 12, "the layer's claim is added to the default eleven"
    assert claims["claim"].iloc[-1] == "CIFAR-100: the 6-conv ReLU net learns" and claims["n_seeds"].iloc[-1] == 1
    assert (results / "report.html").is_file()


def files_of(results):
    return sorted(path.name for path in (results / "data").iterdir())


# Every table the aggregate, sensitivity and lecture_cell rules write from the runs' recorded facts.
JUDGED_TABLES = [table.file for rule in REJUDGED_RULES for table in tables(rule) if table.suffix == "csv"]


def published_elsewhere(results, tmp_path):
    """``results`` published as make reproduction publishes it, then moved: the folder a reader downloads."""
    from study.reporting.publish import publish
    from study.reporting.published_text import END, START

    readme = tmp_path / "README.md"
    readme.write_text(f"{START}\n{END}\n")
    publish(results, tmp_path / "published", "make study", readme, [results.parent / "test.yaml"])
    return (tmp_path / "published").rename(tmp_path / "downloaded")


def rejudge_without(results, *arguments):
    """python -m study.rejudge ARGUMENTS with ``results`` renamed meanwhile, so that nothing is read from it."""
    from study.rejudge import main

    hidden = results.rename(results.with_name("results-hidden"))
    try:
        main([str(argument) for argument in arguments])
    finally:
        hidden.rename(results)


def test_a_published_study_judged_again_from_its_facts_alone_gives_its_own_tables(study, tmp_path):
    published = published_elsewhere(study, tmp_path)
    rejudge_without(study, published, tmp_path / "rejudged")
    rejudged = tmp_path / "rejudged" / "tables"
    for name in JUDGED_TABLES:
        assert (rejudged / name).read_bytes() == (study / "tables" / name).read_bytes(), name
    for look in (study / "looks").glob("look_*.json"):
        assert (tmp_path / "rejudged" / "looks" / look.name).read_bytes() == look.read_bytes(), "judged again alike"
    mine, theirs = (json.loads((tables / "provenance.json").read_text()) for tables in (rejudged, study / "tables"))
    assert mine | {"git_commit": None} == theirs | {"git_commit": None}, "the commit is the re-judging code's"
    assert not list((tmp_path / "rejudged").rglob("*.keras")) and not (tmp_path / "rejudged" / "checkpoints").exists()


def test_given_config_files_judge_the_same_facts_and_a_corrected_rule_retrains_nothing(study, tmp_path, capsys):
    published = published_elsewhere(study, tmp_path)
    layers = [study.parent / "test.yaml"]  # the study's own layer, over config/config.yaml as the workflow takes it
    rejudge_without(study, published, tmp_path / "same", "--configfile", *layers)
    for name in ("summary.csv", "runs.csv", "claims.csv"):
        assert (tmp_path / "same" / "tables" / name).read_bytes() == (study / "tables" / name).read_bytes(), name
    (tmp_path / "corrected.yaml").write_text(
        yaml.safe_dump({"design": {"alpha": 0.01, "looks": [1, 2]}, "extend": {"claims": JUDGEMENT_CHANGES["claims"]}})
    )  # a stricter level, a new claim, and a look after the first seed, which the study did not plan
    corrected = [*layers, tmp_path / "corrected.yaml"]
    rejudge_without(study, published, tmp_path / "corrected", "--report", "--configfile", *corrected)
    claims = pd.read_csv(tmp_path / "corrected" / "tables" / "claims.csv")
    assert claims["claim"].tolist() == [*pd.read_csv(study / "tables" / "claims.csv")["claim"], "a new claim"]
    assert set(claims["protocol"]) == {"exploratory"}, "a rule set after the runs confirms nothing"
    runs = pd.read_csv(tmp_path / "corrected" / "tables" / "runs.csv")
    assert runs[["variant", "seed"]].equals(pd.read_csv(study / "tables" / "runs.csv")[["variant", "seed"]])
    assert "a new claim" in (tmp_path / "corrected" / "report.html").read_text()
    assert "look 1 would give the next look's seeds to" in capsys.readouterr().out, "the runs are what was trained"


def test_a_stage_restored_from_the_published_facts_is_not_trained_again_and_judges_alike(study, tmp_path):
    published = published_elsewhere(study, tmp_path)
    work = tmp_path / "next-session"  # a machine that kept no results folder between stages
    shutil.copytree(study.parent, work, ignore=shutil.ignore_patterns("mirror"))
    cells = sorted(path.name for path in (study / "runs").glob(f"{SENSITIVITY['variants'][0]}.*"))
    assert len(cells) == 4
    for cell in cells:
        shutil.rmtree(work / "results" / "runs" / cell)
    layer = {"restore": {"facts": str(published / "facts.tar.xz"), "stages": ["sensitivity"]}}
    jobs = planned_jobs(work, layer)
    assert jobs["restored_run"] == 4 and "train" not in jobs and "preflight" not in jobs, jobs
    result = subprocess.run(
        workflow_command(work, work / "changed.yaml", *LOCAL, "--", "results/tables/sensitivity.csv"),
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    for cell in cells:
        restored, trained = work / "results" / "runs" / cell / "seed_4", study / "runs" / cell / "seed_4"
        assert sorted(path.name for path in restored.iterdir()) == sorted(RUN_FACTS), "the facts, and no model"
        for name in RUN_FACTS:
            assert (restored / name).read_bytes() == (trained / name).read_bytes(), (cell, name)
    for table in tables("sensitivity"):
        assert (work / "results" / "tables" / table.file).read_bytes() == (study / "tables" / table.file).read_bytes()


def test_a_restored_run_that_the_config_now_defines_otherwise_is_refused_by_name(study, tmp_path):
    from study.facts import RestoreError, restore_run
    from study.training.run import Run

    published = published_elsewhere(study, tmp_path)
    config = load_config([REPO / "config" / "config.yaml", study.parent / "test.yaml"])
    variant = next(variant for variant, _ in sensitivity_runs(config))
    planned = Run.from_config(config, variant, 4).to_dict()
    planned["spec"]["batch_size"] = 32
    with pytest.raises(RestoreError, match=re.escape(f"runs/{variant}/seed_4 was trained as another run than the")):
        restore_run(published / "facts.tar.xz", planned, {})
    with pytest.raises(RestoreError, match=re.escape("spec.batch_size: 64 -> 32")):
        restore_run(published / "facts.tar.xz", planned, {})
    with pytest.raises(RestoreError, match=re.escape("holds no history.csv, steps.csv, diagnostics.csv, metrics")):
        restore_run(published / "facts.tar.xz", Run.from_config(config, variant, 5).to_dict(), {})
