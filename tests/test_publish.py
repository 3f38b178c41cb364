import json
import os
import tarfile
from pathlib import Path

import pandas as pd
import pytest

from study.facts import unpack_facts, write_facts
from study.reporting.published_text import (
    END,
    START,
    lecture_cell_section,
    replace_results_block,
    reproduction_readme,
    results_block,
)

PROVENANCE = {
    "git_commit": "abc123",
    "configfiles": ["config/offline-mirror.yaml", "config/quick.yaml"],
    "training_commits": ["abc123"],
    "devices": ["CPU: Intel(R) Xeon(R) Processor (2 cores)"],
    "versions": [{"python": "3.11", "tensorflow": "2.21.0"}],
    "training": [
        {"precision": "mixed_bfloat16", "precision_choice": "auto: CPU with AMX bf16 units", "threads": 2},
        {"precision": "mixed_bfloat16", "precision_choice": "auto: CPU with AMX bf16 units", "threads": 1},
    ],
    "data": {"cifar10": {"sources": {"cifar-10-binary.tar.gz": {"sha256": "f00d"}}}},
    "config": {
        "seeds": [1, 2],
        "subset": {"train": 100, "val": 20},
        "subset_seed": 0,
        "mirror": "results/mirror",
        "datasets": {"cifar10": {"note": "a JPEG re-encoding"}},
    },
}
CLAIMS = pd.DataFrame(
    [
        {
            "claim": "the 6-conv sigmoid net does not learn",
            "lecture": "does not learn",
            "evidence": "7/7 seeds, rate 1.00 [0.59, 1.00]",
            "p_adjusted": 0.0156,
            "verdict": "confirmed",
            "seeds_needed": None,
            "power_at": None,
        },
        {
            "claim": "batch norm makes the 12-conv net learn",
            "lecture": "learns",
            "evidence": "4/5 vs 0/5, difference +0.80 [+0.07, +0.99]",
            "p_adjusted": 0.1236,
            "verdict": "undetermined",
            "seeds_needed": 26,
            "power_at": "rates 0.75 against 0.25",
        },
    ]
)
TIMING = {"training_jobs": 2, "training_span_minutes": 3.0, "training_job_minutes": 5.0}


def test_the_reproduction_readme_says_how_it_was_made():
    text = reproduction_readme("make reproduction", PROVENANCE, TIMING, CLAIMS)
    assert text.startswith(
        "# Reproduction on real data (quick profile): `config/offline-mirror.yaml` + `config/quick.yaml`\n"
    )
    assert "```bash\nmake reproduction\n```" in text
    assert "- Precision: mixed_bfloat16 (auto: CPU with AMX bf16 units)\n" in text
    assert "trained on CPU: Intel(R) Xeon(R) Processor (2 cores)" in text
    assert "Fetched from the mirror `results/mirror`" in text
    assert "- **cifar10**: a JPEG re-encoding" in text
    assert "| cifar10 | `cifar-10-binary.tar.gz` | `f00d` |" in text
    assert "Seeds: 1, 2; data: at most 100 training and 20 validation images per dataset" in text
    assert "3.0 minutes from the first training job's start" in text
    timed = reproduction_readme("make reproduction", PROVENANCE, TIMING | {"wall_seconds": 3000}, CLAIMS)
    assert "- Time: 50.0 minutes of wall time for the whole study (3.0 minutes from the first" in timed
    apart = reproduction_readme(
        "make reproduction", PROVENANCE, TIMING | {"wall_seconds": 120, "confirmatory_seconds": 4800}, CLAIMS
    )
    assert (
        "- Time: 80.0 minutes of wall time for the confirmatory study (`make confirmatory`; 3.0 minutes from the "
        "first training job's start to the last one's end), then 2.0 minutes for the tables, report and publication"
        in apart
    ), "trained apart first, the confirmatory study's own time is the one its budget is for"
    restoring = PROVENANCE | {
        "config": PROVENANCE["config"]
        | {"restore": {"facts": "docs/reproduction/facts.tar.xz", "stages": ["sensitivity"]}}
    }
    restored = reproduction_readme("make reproduction RESTORE=r.yaml", restoring, TIMING, CLAIMS)
    assert "The stages sensitivity were trained in an earlier session and taken from its published facts" in restored
    assert "restore" not in text, "a run that restored nothing says nothing of it"


def test_config_layers_are_named_relative_to_the_repository():
    from study.config import REPOSITORY

    absolute = [str(REPOSITORY / "config" / "quick.yaml"), "/elsewhere/mine.yaml"]
    text = reproduction_readme("make reproduction", PROVENANCE | {"configfiles": absolute}, TIMING, CLAIMS)
    assert text.startswith(
        "# Reproduction on real data (quick profile): `config/quick.yaml` + `/elsewhere/mine.yaml`\n"
    )


def test_a_run_on_the_default_config_and_full_data_says_so():
    config = PROVENANCE["config"] | {"subset": {}, "mirror": None, "datasets": {"cifar10": {}}}
    text = reproduction_readme("make study", PROVENANCE | {"configfiles": [], "config": config}, TIMING, CLAIMS)
    assert text.startswith("# Reproduction on real data: the default config\n")
    assert "data: the full splits" in text
    assert "Fetched from the official URLs in the config" in text and "JPEG" not in text
    assert "quick" not in text


def test_the_results_block_has_the_claims_and_points_to_the_run(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # a folder with no picture in it
    block = results_block(PROVENANCE, CLAIMS, Path("docs/reproduction"))
    header = (
        "| claim | lecture reports | evidence (intervals at each claim's Holm level) | Holm-adjusted p | verdict "
        "| seeds for 80% power |"
    )
    assert header in block
    assert "| does not learn | 7/7 seeds, rate 1.00 [0.59, 1.00] | 0.016 | confirmed |  |" in block
    assert "| 0.124 | undetermined | 26 (at rates 0.75 against 0.25) |" in block
    assert "Published run (quick profile): `config/offline-mirror.yaml` + `config/quick.yaml`, 2 seeds" in block
    assert "(docs/reproduction/README.md)" in block
    assert "minutes" not in block, "timing lives in the reproduction's own README"
    assert "first-screen.png" not in block, "no picture was taken"


def test_the_results_block_shows_the_reports_first_screen_above_the_claims(tmp_path):
    (tmp_path / "first-screen.png").write_bytes(b"\x89PNG")
    block = results_block(PROVENANCE, CLAIMS, tmp_path)
    alt = "The published report's first screen: the claims with their verdicts and forest plot"
    picture = f"![{alt}]({tmp_path.as_posix()}/first-screen.png)"
    assert picture in block and block.index(picture) < block.index("| claim |")


def test_seeds_added_in_looks_are_published_with_the_looks_taken_and_the_exploration_seeds_left_out():
    config = PROVENANCE["config"] | {"seeds": [11, 12, 13], "design": {"looks": [2, 3], "exploration_seeds": [1, 2]}}
    text = reproduction_readme(
        "make reproduction", PROVENANCE | {"config": config}, TIMING, CLAIMS.assign(looks_taken=1)
    )
    assert (
        "- Seeds: 11, 12, 13, added in looks of 2, 3 seeds per variant (1 of 2 looks taken; a variant gets a "
        "look's seeds only while a claim on it is undetermined); exploration seeds 1, 2 left out; data:"
    ) in text


def test_only_the_results_block_of_the_readme_is_replaced():
    readme = f"# Title\n\n{START}\nold table\n{END}\n\nhand-written text\n"
    assert replace_results_block(readme, "new table") == f"# Title\n\n{START}\nnew table\n{END}\n\nhand-written text\n"
    with pytest.raises(ValueError, match="no"):
        replace_results_block("# no markers\n", "new table")


def test_the_sensitivity_map_is_published_with_its_wall_time(tmp_path):
    from study.reporting.published_text import sensitivity_section

    (tmp_path / "tables").mkdir()
    rates = pd.DataFrame(
        [
            {"variant": "a", "learning_rate": 0.001, "n_learned": 2, "n_seeds": 3}
            | {"rate_low": 0.09, "rate_high": 0.99, "profile_cell": True, "cell": "learning_rate=0.001"}
        ]
    )
    rates.to_csv(tmp_path / "tables" / "sensitivity.csv", index=False)
    trend = {
        "claim": "fewer runs of a learn as learning_rate increases",
        "evidence": "learned at learning rate 0.001: 2/3",
    }
    trend |= {"p_adjusted": 1.0, "verdict": "undetermined", "cell": "all"}
    pd.DataFrame([trend]).to_csv(tmp_path / "tables" / "sensitivity_claims.csv", index=False)
    config = {"sensitivity": {"variants": ["a"], "grid": {"learning_rate": [0.001]}, "seeds": [31, 32, 33]}}
    assert "took" not in sensitivity_section(tmp_path, config)
    assert (
        "- fewer runs of a learn as learning_rate increases: **undetermined** (learned at learning rate 0.001: 2/3;"
        in (sensitivity_section(tmp_path, config))
    )
    (tmp_path / "sensitivity-wall-seconds").write_text("1800\n")
    text = sensitivity_section(tmp_path, config)
    assert text.startswith("## Sensitivity map") and "3 training runs. It took 30.0 minutes of wall time" in text
    assert "| variant | learning rate | learned | rate 95% CI | this profile's cell |" in text
    assert "| a | 0.001 | 2/3 | [0.09, 0.99] | yes |" in text, "a learning rate keeps its digits"
    pd.DataFrame(columns=rates.columns).to_csv(tmp_path / "tables" / "sensitivity.csv", index=False)
    assert sensitivity_section(tmp_path, config) == ""


def test_the_lecture_cell_is_published_run_by_run_with_its_wall_time(tmp_path):
    (tmp_path / "tables").mkdir()
    run = {"variant": "cifar_12conv_relu", "width": 1.0, "learning_rate": 0.001, "batch_size": 256}
    run |= {"train_images": 50000, "planned_steps": 196, "steps": 196, "ended_dead_at_step": None}
    run |= {"final_train_accuracy": 0.1001, "final_val_accuracy": 0.1, "wall_seconds": 201.4}
    stuck = run | {"seed": 401, "outcome": "stuck", "outcome_reason": "never below 2.253"}
    learns = run | {"variant": "cifar_12conv_relu_he", "seed": 401, "outcome": "learns", "outcome_reason": "left"}
    learns |= {"final_train_accuracy": 0.404, "final_val_accuracy": 0.4051}
    pd.DataFrame([stuck, learns]).to_csv(tmp_path / "tables" / "lecture_cell.csv", index=False)
    config = {"lecture_cell": {"seeds": [401]}}
    text = lecture_cell_section(tmp_path, config)
    assert text.startswith("## The lecture's own cell") and "took" not in text
    assert "width 1, Adam at 0.001, batch 256, 50,000 training images, 196 steps planned" in text
    assert "- cifar_12conv_relu: stuck 1/1" in text and "- cifar_12conv_relu_he: learns 1/1" in text
    assert "| cifar_12conv_relu_he | 401 | learns | left | 196 | 0.404 | 0.405 | 201.400 |" in text
    (tmp_path / "lecture-cell-wall-seconds").write_text("2700\n")
    assert "It took 45.0 minutes of wall time (`make lecture-cell`)." in lecture_cell_section(tmp_path, config)
    pd.DataFrame(columns=list(stuck)).to_csv(tmp_path / "tables" / "lecture_cell.csv", index=False)
    assert lecture_cell_section(tmp_path, config) == ""


# A results folder's facts: two variants on seeds 1 and 2, a stability run, a 2-cell sensitivity map, the
# lecture's cell of one variant, two looks
FACTS_CONFIG = {
    "variants_to_train": ["b", "a"],
    "variants": {"a": {"dataset": "cifar10"}, "b": {"dataset": "fashion_mnist"}, "unused": {"dataset": "mnist"}},
    "stability": {"variants": ["a"], "seeds": [3]},
    "sensitivity": {"variants": ["a"], "grid": {"learning_rate": [0.001, 0.003]}, "seeds": [4]},
    "lecture_cell": {"variants": ["a"], "settings": {"width": 1.0}, "seeds": [5]},
}
STUDY_RUNS = [("b", 1), ("b", 2), ("a", 1), ("a", 2)]
OTHER_RUNS = [("a", 3), ("a.learning_rate-0.001", 4), ("a.learning_rate-0.003", 4), ("a.lecture", 5)]
RECORDED = ["history.csv", "steps.csv", "diagnostics.csv", "metrics.json"]
NEVER_PUBLISHED = ["model.keras", "tensorboard/events.out.tfevents", "train.log"]


def write_results(results, protocol: bool = True):
    """A finished study's results folder, every file holding its own name, with what must not be published
    beside what must: models, logs, checkpoints, benchmarks, a stale third look and an untrained variant's
    pre-flight check."""
    files = [f"runs/{v}/seed_{s}/{name}" for v, s in STUDY_RUNS + OTHER_RUNS for name in RECORDED + NEVER_PUBLISHED]
    files += ["preflight/a.json", "preflight/b.json", "preflight/unused.json", "tables/params.csv"]
    files += ["stats/cifar10.json", "stats/fashion_mnist.json", "looks/look_3.json", "report.html"]
    files += ["checkpoints/a/seed_1/ckpt.weights.h5", "benchmarks/train/a/seed_1.tsv", "logs/aggregate.log"]
    files += ["protocol.json"] if protocol else []
    for name in files:
        (results / name).parent.mkdir(parents=True, exist_ok=True)
        (results / name).write_text(name)
    for look, stop in ((1, False), (2, True)):
        (results / "looks" / f"look_{look}.json").write_text(json.dumps({"look": look, "stop": stop}))
    pd.DataFrame(STUDY_RUNS, columns=["variant", "seed"]).to_csv(results / "tables" / "runs.csv", index=False)
    return results


def members(archive) -> list[str]:
    with tarfile.open(archive) as facts:
        return facts.getnames()


def test_the_facts_hold_every_runs_records_the_looks_taken_the_preflight_checks_and_the_protocol(tmp_path):
    results = write_results(tmp_path / "results")
    manifest = write_facts(results, tmp_path / "facts.tar.xz", FACTS_CONFIG)
    runs = [f"runs/{v}/seed_{s}" for v, s in STUDY_RUNS + OTHER_RUNS]
    expected = [f"{run}/{name}" for run in runs for name in RECORDED] + ["looks/look_1.json", "looks/look_2.json"]
    expected += ["preflight/a.json", "preflight/b.json", "protocol.json", "tables/params.csv"]
    expected += ["stats/cifar10.json", "stats/fashion_mnist.json"]
    assert members(tmp_path / "facts.tar.xz") == ["facts.json", *sorted(expected)]
    assert manifest["run_dirs"] == ["runs/b/seed_1", "runs/b/seed_2", "runs/a/seed_1", "runs/a/seed_2"]
    assert manifest["stability_run_dirs"] == ["runs/a/seed_3"]
    assert manifest["sensitivity_run_dirs"] == [
        "runs/a.learning_rate-0.001/seed_4",
        "runs/a.learning_rate-0.003/seed_4",
    ]
    assert manifest["lecture_cell_run_dirs"] == ["runs/a.lecture/seed_5"]
    assert manifest["look_jsons"] == ["looks/look_1.json", "looks/look_2.json"], "the stale third look is left out"
    assert manifest["preflight_jsons"] == ["preflight/b.json", "preflight/a.json"], "in the order trained"
    with tarfile.open(tmp_path / "facts.tar.xz") as facts:
        assert json.load(facts.extractfile("facts.json")) == manifest
        for name in expected:
            assert facts.extractfile(name).read().decode() == (results / name).read_text()


def test_the_facts_never_hold_a_model_a_checkpoint_a_log_or_a_benchmark(tmp_path):
    write_facts(write_results(tmp_path / "results"), tmp_path / "facts.tar.xz", FACTS_CONFIG)
    published = members(tmp_path / "facts.tar.xz")
    for name in published:
        assert not name.endswith((".keras", ".h5", ".log", ".tsv", ".html")) and "tfevents" not in name, name
        assert name.split("/")[0] in {"facts.json", "runs", "looks", "preflight", "protocol.json", "tables", "stats"}


def test_identical_facts_give_identical_bytes_whenever_and_wherever_they_are_published(tmp_path):
    results = write_results(tmp_path / "results")
    write_facts(results, tmp_path / "first.tar.xz", FACTS_CONFIG)
    for path in results.rglob("*"):
        os.utime(path, (1_000_000_000, 1_000_000_000))
    moved = results.rename(tmp_path / "elsewhere")
    write_facts(moved, tmp_path / "second.tar.xz", FACTS_CONFIG)
    assert (tmp_path / "first.tar.xz").read_bytes() == (tmp_path / "second.tar.xz").read_bytes()
    with tarfile.open(tmp_path / "first.tar.xz") as facts:
        assert {(m.mtime, m.uid, m.gid, m.uname, m.gname, m.mode) for m in facts.getmembers()} == {
            (0, 0, 0, "", "", 0o644)
        }


def test_a_study_without_a_protocol_publishes_its_facts_without_one(tmp_path):
    write_facts(write_results(tmp_path / "results", protocol=False), tmp_path / "facts.tar.xz", FACTS_CONFIG)
    assert "protocol.json" not in members(tmp_path / "facts.tar.xz")


def test_rejudging_a_study_published_before_its_facts_says_so(tmp_path):
    (tmp_path / "published").mkdir()
    with pytest.raises(SystemExit, match="published before the facts were"):
        unpack_facts(tmp_path / "published", tmp_path / "out")
