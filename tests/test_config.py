import copy
import re
import subprocess

import pytest
import yaml
from conftest import REPO, SNAKEMAKE, workflow_command
from snakemake.exceptions import WorkflowError
from snakemake.utils import validate

from study.config import ConfigError, check_config, load_config

SCHEMA = str(REPO / "workflow" / "schemas" / "config.schema.yaml")


def validated(config):
    config = copy.deepcopy(config)
    validate(config, SCHEMA)
    return config


def test_default_config_is_valid_and_gets_defaults(default_config):
    config = validated(default_config)
    check_config(config)
    spec = config["variants"]["cifar_12conv_relu_he"]
    assert spec["batch_size"] == 256 and spec["learning_rate"] == 0.001 and spec["width"] == 1.0
    assert spec["batchnorm"] is False and spec["skip"] is False and spec["normalization"] == "scale01"
    assert spec["batchnorm_momentum"] == 0.99, "Keras' own default"
    assert config["subset"] == {} and config["mirror"] is None


def test_every_lecture_model_is_a_variant(default_config):
    variants = validated(default_config)["variants"]
    blocks = {name: [len(b) for b in spec["blocks"]] for name, spec in variants.items()}
    assert blocks["cifar_2conv_sigmoid"] == [1, 1]
    assert blocks["cifar_3conv_sigmoid"] == [1, 1, 1]
    assert blocks["cifar_6conv_sigmoid"] == blocks["cifar_6conv_relu"] == [2, 2, 2]
    fixes = {
        "standardize": ("normalization", "standardize"),
        "batchnorm": ("batchnorm", True),
        "he": ("initializer", "he_normal"),
        "skip": ("skip", True),
    }
    baseline = variants["cifar_12conv_relu"]
    assert blocks["cifar_12conv_relu"] == [3, 3, 3, 3]
    for suffix, (key, value) in fixes.items():
        fixed = variants[f"cifar_12conv_relu_{suffix}"]
        assert fixed[key] == value
        assert {k: v for k, v in fixed.items() if k not in (key, "lecture")} == {
            k: v for k, v in baseline.items() if k not in (key, "lecture")
        }, f"{suffix} must differ from the 12-conv baseline only by its fix"


@pytest.mark.parametrize(
    ("edit", "named"),
    [
        (lambda c: c["variants"]["cifar_6conv_relu"].update(epoch=3), "'epoch' was unexpected"),
        (lambda c: c["variants"]["cifar_6conv_relu"].update(activation="swish"), "'swish' is not one of"),
        (lambda c: c.update(seed=[1]), "'seed' was unexpected"),
        (lambda c: c.update(seeds=[]), "should be non-empty"),
        (
            lambda c: c["datasets"]["cifar10"]["files"]["cifar-10-binary.tar.gz"].update(covers="archive"),
            "'archive' is not one of",
        ),
        (lambda c: c.update(subset={"train": "lots"}), "'lots' is not of type 'integer'"),
    ],
    ids=["typo-key", "bad-activation", "top-level-typo", "no-seeds", "bad-checksum-scope", "bad-subset"],
)
def test_schema_rejects_bad_config(default_config, edit, named):
    edit(default_config)
    with pytest.raises(WorkflowError, match=re.escape(named)):
        validated(default_config)


@pytest.mark.parametrize(
    ("edit", "named"),
    [
        (
            lambda c: c.update(variants_to_train=["cifar_7conv"]),
            "variants_to_train: ['cifar_7conv'] not among variants",
        ),
        (lambda c: c.update(run=["cifar_6conv_relu"]), "run: this key is now called 'variants_to_train'"),
        (lambda c: c.update(verdicts={"plateau_margin": 0.1}), "verdicts: this key is now called 'outcomes'"),
        (lambda c: c.update(subset={"test": 100}), "subset.test: this key is now called 'subset.val'"),
        (
            lambda c: c["claims"].append({"claim": "x", "expect": "learns", "variant": "cifar_6conv_relu", "by": 0.1}),
            "claims[11].by: only a better_than claim states a least difference",
        ),
        (
            lambda c: c.setdefault("design", {}).update(not_testable={"no such claim": "why"}),
            "design.not_testable: 'no such claim' is not the text of a claim",
        ),
        (lambda c: c["variants"]["cifar_6conv_relu"].update(dataset="mnist"), "variants.cifar_6conv_relu.dataset"),
        (
            lambda c: c["claims"].append({"claim": "x", "expect": "does_not_learn", "variant": "nope"}),
            "claims[11].variant",
        ),
        (
            lambda c: c["claims"].append({"claim": "x", "expect": "better_than", "variant": "cifar_6conv_relu"}),
            "claims[11]: expect 'better_than' needs a baseline",
        ),
        (
            lambda c: c["datasets"]["fashion_mnist"]["files"].pop("t10k-images-idx3-ubyte.gz"),
            "datasets.fashion_mnist.files",
        ),
        (
            lambda c: c["variants"]["cifar_6conv_relu"].update(blocks=[[8]] * 6),
            "variants.cifar_6conv_relu.blocks: 6 blocks of 2x2 pooling shrink the 32x32 images of cifar10 below 1x1",
        ),
        (
            lambda c: c["variants"]["fmnist_2conv_sigmoid"].update(blocks=[[8]] * 3, skip=True),
            "variants.fmnist_2conv_sigmoid.skip: block 3 gets 7x7 images, an odd size",
        ),
        (
            lambda c: c.update(seeds=[4, 5, 11], design={"exploration_seeds": list(range(1, 11))}),
            "seeds: [4, 5] are design.exploration_seeds",
        ),
        (
            lambda c: c.update(seeds=[11], stability={"seeds": [2, 12]}, design={"exploration_seeds": [1, 2]}),
            "stability.seeds: [2] are design.exploration_seeds",
        ),
        (
            lambda c: c.update(seeds=[1, 2, 3], design={"looks": [2, 4]}),
            "design.looks: [2, 4] must increase and end at the number of seeds (3)",
        ),
        (
            lambda c: c.update(seeds=[1, 2, 3], stability={"seeds": [3, 4]}),
            "stability.seeds: [3] are also in seeds",
        ),
        (
            lambda c: c.update(
                seeds=[201, 202],
                sensitivity={"variants": ["cifar_12conv_relu"], "grid": {"width": [0.5]}, "seeds": [202]},
            ),
            "sensitivity.seeds: [202] are also in seeds; each set of runs needs seeds of its own",
        ),
        (
            lambda c: c.update(
                seeds=[201],
                sensitivity={"variants": ["cifar_12conv_relu"], "grid": {"width": [0.5]}, "seeds": [301, 101]},
                design={"exploration_seeds": [101, 102]},
            ),
            "sensitivity.seeds: [101] are design.exploration_seeds",
        ),
        (
            lambda c: c.update(lecture_cell={"variants": ["cifar_12conv_relu"], "seeds": [401, 203]}),
            "lecture_cell.seeds: [203] are also in seeds; each set of runs needs seeds of its own",
        ),
        (
            lambda c: c.update(lecture_cell={"variants": ["cifar_12conv"], "seeds": [401]}),
            "lecture_cell.variants: ['cifar_12conv'] are not variants",
        ),
        (
            lambda c: c.update(variants_to_train=["cifar_6conv_relu"], stability={"variants": ["cifar_6conv_sigmoid"]}),
            "stability.variants: ['cifar_6conv_sigmoid'] are not among the variants this study trains",
        ),
        (
            lambda c: c.update(restore={"stages": ["sensitivity"]}),
            "restore.facts: restoring ['sensitivity'] needs the published facts.tar.xz to read",
        ),
    ],
)
def test_cross_references_are_checked(default_config, edit, named):
    edit(default_config)
    with pytest.raises(ConfigError, match=re.escape(named)):
        check_config(validated(default_config))


def test_dry_run_plans_the_first_looks_train_jobs_and_prints_the_power_of_every_look(default_config, tmp_path):
    result = subprocess.run(
        [
            SNAKEMAKE,
            "-n",
            "--cores",
            "2",
            "--resources",
            "gpu=1",
            "--directory",
            str(tmp_path),
            "--snakefile",
            str(REPO / "Snakefile"),
            "--configfile",
            str(REPO / "config" / "config.yaml"),
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    counts = dict(re.findall(r"^(\w+)\s+(\d+)$", result.stdout, re.MULTILINE))
    first_look = default_config["design"]["looks"][0]
    assert int(counts["train"]) == len(default_config["variants"]) * first_look == 250
    assert int(counts["download"]) == 5
    assert "Study plan: at most 730 jobs" in result.stdout and "train 700, restored_run 0, look 3" in result.stdout
    assert "the seeds reach 70: enough for every claim." in result.stdout


@pytest.mark.parametrize(
    ("layer", "named"),
    [
        (
            "variants:\n  cifar_6conv_relu:\n    epochz: 3\n",
            "variants.cifar_6conv_relu.epochz: 'epochz' was unexpected (did you mean 'epochs'?)",
        ),
        ("subsett: {train: 100}\n", "subsett: 'subsett' was unexpected (did you mean 'subset'?)"),
        ("seeds: [1, 1]\n", "seeds: [1, 1] has non-unique elements"),
        # an exploration seed listed for confirmation
        ("seeds: [4, 11]\ndesign: {exploration_seeds: [1, 2, 3, 4, 5]}\n", "seeds: [4] are design.exploration_seeds"),
        ("extend: {claimz: [{claim: x}]}\n", "extend.claimz: the config has no list 'claimz' to add to"),
        # a tracking server's URI with a typo is refused here, not found by each training job
        ("tracking: {mlflow: {uri: 'htp://127.0.0.1:5000'}}\n", "tracking.mlflow.uri: 'htp://127.0.0.1:5000' is not"),
        ("tracking: {mlflow: {uri: 'localhost:5000'}}\n", "tracking.mlflow.uri: 'localhost:5000' is not an MLflow"),
    ],
)
def test_a_bad_config_stops_the_run_before_any_job_and_names_the_problem(tmp_path, layer, named):
    (tmp_path / "bad.yaml").write_text(layer)
    result = subprocess.run(
        workflow_command(tmp_path, tmp_path / "bad.yaml", "-n", "--cores", "1"), capture_output=True, text=True
    )
    assert result.returncode != 0
    output = result.stdout + result.stderr
    assert named in output
    assert "Failed validating" not in output and output.count("\n") < 15, "one line, not the schema"
    assert not (tmp_path / "results").exists()


@pytest.mark.parametrize(
    "layers",
    [
        ["config.yaml"],
        ["config.yaml", "quick.yaml"],
        ["config.yaml", "offline-mirror.yaml"],
        ["config.yaml", "cifar100.yaml"],
    ],
)
def test_config_loaded_outside_snakemake_equals_snakemakes(layers):
    from snakemake.utils import update_config

    from study.config import apply_extend, extend_of_layers

    paths = [REPO / "config" / name for name in layers]
    expected = {}
    for path in paths:
        update_config(expected, yaml.safe_load(path.read_text()))
    expected["extend"] = extend_of_layers(expected, paths)  # as the Snakefile reads it
    assert load_config(paths) == validated(apply_extend(expected))


def test_a_bad_config_loaded_outside_snakemake_names_the_key():
    import jsonschema

    from study.config import validate_with_defaults

    bad = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    bad["variants"]["cifar_6conv_relu"]["epochz"] = 3
    with pytest.raises(jsonschema.ValidationError, match="'epochz' was unexpected"):
        validate_with_defaults(bad, SCHEMA)


NEW_CLAIM = {"claim": "ReLU beats sigmoid in the 3-conv net", "expect": "better_than"} | {
    "variant": "cifar_6conv_relu",
    "baseline": "cifar_3conv_sigmoid",
}


def test_a_layer_under_extend_adds_to_the_default_lists_where_a_plain_one_replaces_them(tmp_path):
    from study.config import load_config

    default = load_config([REPO / "config" / "config.yaml"])
    extending = tmp_path / "extending.yaml"
    extending.write_text(
        yaml.safe_dump({"extend": {"claims": [NEW_CLAIM], "fix_ranking.variants": ["cifar_6conv_relu"]}})
    )
    config = load_config([REPO / "config" / "config.yaml", extending])
    assert config["claims"][:-1] == default["claims"] and config["claims"][-1]["claim"] == NEW_CLAIM["claim"]
    assert len(config["claims"]) == len(default["claims"]) + 1 == 12
    assert config["fix_ranking"]["variants"] == [*default["fix_ranking"]["variants"], "cifar_6conv_relu"]
    assert "extend" not in config
    replacing = tmp_path / "replacing.yaml"
    replacing.write_text(yaml.safe_dump({"claims": [NEW_CLAIM]}))
    assert len(load_config([REPO / "config" / "config.yaml", replacing])["claims"]) == 1


def test_the_workflow_reads_extend_as_the_tools_do(tmp_path):
    (tmp_path / "extending.yaml").write_text(yaml.safe_dump({"extend": {"claims": [NEW_CLAIM]}}))
    result = subprocess.run(
        workflow_command(tmp_path, tmp_path / "extending.yaml", "-n", "--cores", "1"), capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]


def test_he_et_al_s_pair_is_a_claim_family_of_its_own_added_by_config_alone():
    config = load_config([REPO / "config" / "config.yaml", REPO / "config" / "he2015.yaml"])
    added = config["claims"][-2:]
    assert {claim["family"] for claim in added} == {"he2015"} and len(config["claims"]) == 13
    glorot, he = (config["variants"][f"cifar_30conv_plain_{init}"] for init in ("glorot", "he"))
    assert sum(len(block) for block in glorot["blocks"]) == 30 and not glorot["batchnorm"] and not glorot["skip"]
    assert (glorot["initializer"], he["initializer"]) == ("glorot_uniform", "he_normal")


def test_a_claim_expecting_stuck_is_refused_with_its_new_name_before_the_schema_lists_its_enum(tmp_path):
    layer = tmp_path / "old.yaml"
    layer.write_text(yaml.safe_dump({"claims": [{"claim": "x", "expect": "stuck", "variant": "cifar_6conv_relu"}]}))
    with pytest.raises(ConfigError, match=re.escape("claims[0].expect: 'stuck' is now 'does_not_learn'")):
        load_config([REPO / "config" / "config.yaml", layer])


def test_a_subset_smaller_than_a_datasets_classes_is_refused(tmp_path):
    layer = tmp_path / "small.yaml"
    layer.write_text(yaml.safe_dump({"subset": {"train": 50}}))
    layers = [REPO / "config" / "config.yaml", REPO / "config" / "cifar100.yaml", layer]
    with pytest.raises(ConfigError, match=re.escape("subset.train: 50 images cannot hold every one of cifar100's 100")):
        load_config(layers)
    assert load_config([REPO / "config" / "config.yaml", layer])["subset"] == {"train": 50}  # 10 classes each


def test_two_layers_that_extend_the_same_list_add_up_in_their_order(tmp_path):
    from study.config import load_config

    default = load_config([REPO / "config" / "config.yaml"])
    layers = []
    for name, claim in (("first", NEW_CLAIM), ("second", NEW_CLAIM | {"claim": "a second new claim"})):
        layers.append(tmp_path / f"{name}.yaml")
        layers[-1].write_text(yaml.safe_dump({"extend": {"claims": [claim]}}))
    config = load_config([REPO / "config" / "config.yaml", *layers])
    added = [claim["claim"] for claim in config["claims"][len(default["claims"]) :]]
    assert added == [NEW_CLAIM["claim"], "a second new claim"]


def test_the_lecture_cell_is_its_variants_at_the_lectures_settings_on_seeds_and_images_of_their_own():
    from study.layout import lecture_cell_runs, planned_runs
    from study.training.run import Run

    config = load_config([REPO / "config" / name for name in ("config.yaml", "quick.yaml", "lecture-cell.yaml")])
    cell = lecture_cell_runs(config)
    assert cell == [
        (f"{variant}.lecture", seed) for variant in config["lecture_cell"]["variants"] for seed in (401, 402, 403)
    ]
    assert set(cell) <= set(planned_runs(config))
    run = Run.from_config(config, "cifar_12conv_relu_he.lecture", 401)
    assert (run.spec["width"], run.spec["learning_rate"], run.spec["epochs"]) == (1.0, 0.001, 1)
    assert run.spec["batchnorm_momentum"] == 0.99, "Keras' default, as the lecture trains, where the profile settles"
    assert run.subset == {} and "subset" not in run.spec, "every training image, where the profile takes 10,000"
    assert Run.from_config(config, "cifar_12conv_relu_he", 11).subset == {"train": 10000, "val": 2000}


def test_a_variants_own_subset_must_hold_every_class_of_its_dataset():
    config = load_config([REPO / "config" / "config.yaml", REPO / "config" / "cifar100.yaml"])
    config["variants"]["cifar100_6conv_relu"]["subset"] = {"train": 50}
    with pytest.raises(ConfigError, match=re.escape("variants.cifar100_6conv_relu.subset.train: 50 images cannot")):
        check_config(config)
