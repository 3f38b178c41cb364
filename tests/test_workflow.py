"""The real workflow, run by the snakemake command line on tiny data served over loopback HTTP."""

import json
import re
import subprocess

import numpy as np
import pandas as pd
import pytest
import yaml
from conftest import REPO, SNAKEMAKE
from fakedata import serve, write_cifar10, write_fashion_mnist

VARIANTS = ["fmnist_2conv_sigmoid", "cifar_12conv_relu_standardize"]
SEEDS = [1, 2]


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    work = tmp_path_factory.mktemp("study")
    mirror = work / "mirror"
    files = {"fashion_mnist": write_fashion_mnist(mirror), "cifar10": write_cifar10(mirror)}
    with serve(mirror) as url:
        config = {
            "mirror": url,
            "seeds": SEEDS,
            "run": VARIANTS,
            "subset": {"train": 150, "test": 40},
            "datasets": {name: {"files": checksums} for name, checksums in files.items()},
            "variants": {name: {"epochs": 1, "batch_size": 64} for name in VARIANTS},
        }
        (work / "test.yaml").write_text(yaml.safe_dump(config))
        result = subprocess.run(
            [
                SNAKEMAKE,
                "--snakefile",
                str(REPO / "Snakefile"),
                "--directory",
                str(work),
                "--cores",
                "2",
                "--resources",
                "gpu=1",
                "--configfile",
                str(REPO / "config" / "config.yaml"),
                str(work / "test.yaml"),
            ],
            capture_output=True,
            text=True,
            timeout=900,
        )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-5000:]
    return work / "results"


def test_every_output_exists(study):
    for dataset, names in {
        "fashion_mnist": ["train-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"],
        "cifar10": ["cifar-10-binary.tar.gz"],
    }.items():
        for name in names:
            assert (study / "downloads" / dataset / name).is_file()
        for array in ["train_images", "train_labels", "test_images", "test_labels"]:
            assert np.load(study / "data" / dataset / f"{array}.npy", mmap_mode="r").dtype == np.uint8
        stats = json.loads((study / "stats" / f"{dataset}.json").read_text())
        assert len(stats["mean"]) == len(stats["std"]) == (1 if dataset == "fashion_mnist" else 3)
    for variant in VARIANTS:
        for seed in SEEDS:
            run = study / "runs" / variant / f"seed_{seed}"
            for name in ["history.csv", "metrics.json", "model.keras"]:
                assert (run / name).stat().st_size > 0
            assert (study / "benchmarks" / "train" / variant / f"seed_{seed}.tsv").is_file()
            log = (study / "logs" / "train" / variant / f"seed_{seed}.log").read_text()
            assert re.search(r"training \w+ seed \d+ on CPU", log)
    for name in ["summary.csv", "epochs.csv", "params.csv", "provenance.json"]:
        assert (study / "tables" / name).is_file()
    assert (study / "report.ipynb").is_file()


def test_subset_is_class_stratified(study):
    meta = json.loads((study / "data" / "cifar10" / "meta.json").read_text())
    assert meta["train"]["images"] == 150 and meta["train"]["of"] == 200
    assert meta["train"]["class_counts"] == [15] * 10
    assert meta["test"]["class_counts"] == [4] * 10


def test_summary_agrees_with_epochs(study):
    summary = pd.read_csv(study / "tables" / "summary.csv").set_index("variant")
    epochs = pd.read_csv(study / "tables" / "epochs.csv")
    assert list(summary.index) == VARIANTS
    assert len(epochs) == len(VARIANTS) * len(SEEDS) * 1
    for variant, row in summary.iterrows():
        last = epochs[epochs["variant"] == variant].sort_values("epoch").groupby("seed").tail(1)
        assert row["n_seeds"] == 2
        assert row["final_train_accuracy_mean"] == pytest.approx(last["accuracy"].mean())
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
    assert len(params[params["kind"] == "variant"]) == 10


def test_provenance(study):
    provenance = json.loads((study / "tables" / "provenance.json").read_text())
    assert re.fullmatch(r"[0-9a-f]{40}(-dirty)?|unknown.*", provenance["git_commit"])
    assert provenance["devices"][0].startswith("CPU: ")
    assert provenance["data"]["cifar10"]["sources"]["cifar-10-binary.tar.gz"]["sha256"]
    assert provenance["config"]["run"] == VARIANTS


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
    for variant in VARIANTS:
        assert variant in html
    assert "134301514" in html.replace(",", "")
    assert len(re.findall(r'<img[^>]+src="data:image/png;base64,', html)) >= 2
    external = re.findall(r'(?:src|href)\s*=\s*["\'](?:https?:)?//', html) + re.findall(r"@import\s+url", html)
    assert external == []
    assert "<script src" not in html
    assert "import pandas" not in html, "code cells must be hidden"
