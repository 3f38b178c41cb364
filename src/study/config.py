"""Checks of a validated config that a JSON schema cannot express, and per-job resource estimates."""

from __future__ import annotations

import copy
import os
from pathlib import Path
from urllib.parse import urlsplit

import yaml

from study.data.formats import FORMATS
from study.layout import trained_datasets, trained_variants
from study.specs import conv_count

REPOSITORY = Path(__file__).resolve().parents[2]
DEFAULT_CONFIG = REPOSITORY / "config" / "config.yaml"
DEFAULT_SCHEMA = REPOSITORY / "workflow" / "schemas" / "config.schema.yaml"


# Keys that were renamed so that one word has one meaning: old name -> new name.
RENAMED_KEYS = {"run": "variants_to_train", "verdicts": "outcomes"}


class ConfigError(ValueError):
    """The config is well-formed but inconsistent."""


def check_renamed_keys(config: dict) -> None:
    """Refuse a key under its old name, giving the new one, rather than ignore what the user set."""
    for old, new in RENAMED_KEYS.items():
        if old in config:
            raise ConfigError(f"{old}: this key is now called {new!r}; rename it in your config file")
    for i, claim in enumerate(config.get("claims") or []):
        if isinstance(claim, dict) and claim.get("expect") == "stuck":
            raise ConfigError(
                f"claims[{i}].expect: 'stuck' is now 'does_not_learn' (any run that does not learn, stuck or not); "
                "rename it in your config file"
            )
    if "test" in config.get("subset", {}):
        raise ConfigError("subset.test: this key is now called 'subset.val' (the validation split); rename it")


def check_config(config: dict) -> None:
    """Raise ConfigError naming the key when names in the config do not refer to each other."""
    check_renamed_keys(config)
    for name, dataset in config["datasets"].items():
        if dataset["format"] not in FORMATS:
            raise ConfigError(
                f"datasets.{name}.format: {dataset['format']!r} is not a registered format ({', '.join(FORMATS)})"
            )
        expected = set(FORMATS[dataset["format"]].files)
        listed = set(dataset["files"])
        if listed != expected:
            raise ConfigError(
                f"datasets.{name}.files: format {dataset['format']!r} needs exactly {sorted(expected)}, "
                f"the config lists {sorted(listed)}"
            )
    for name, spec in config["variants"].items():
        if spec["dataset"] not in config["datasets"]:
            raise ConfigError(
                f"variants.{name}.dataset: {spec['dataset']!r} is not one of datasets {sorted(config['datasets'])}"
            )
        check_image_sizes(name, spec, FORMATS[config["datasets"][spec["dataset"]]["format"]].shape)
    for i, claim in enumerate(config["claims"]):
        for key in ("variant", "baseline"):
            if claim.get(key) is not None and claim[key] not in config["variants"]:
                raise ConfigError(f"claims[{i}].{key}: {claim[key]!r} is not a variant")
        if claim["expect"] in ("better_than", "larger_gap") and not claim.get("baseline"):
            raise ConfigError(f"claims[{i}]: expect {claim['expect']!r} needs a baseline variant")
        if claim.get("by") and claim["expect"] != "better_than":
            raise ConfigError(f"claims[{i}].by: only a better_than claim states a least difference")
    texts = [claim["claim"] for claim in config["claims"]]
    for text in config["design"]["not_testable"]:
        if text not in texts:
            raise ConfigError(f"design.not_testable: {text!r} is not the text of a claim")
    ranking = config.get("fix_ranking") or {"variants": []}
    for i, name in enumerate([ranking.get("baseline"), *ranking["variants"]]):
        key = "fix_ranking.baseline" if i == 0 else f"fix_ranking.variants[{i - 1}]"
        if name is not None and name not in config["variants"]:
            raise ConfigError(f"{key}: {name!r} is not a variant")
    unknown = [name for name in config["variants_to_train"] if name not in config["variants"]]
    if unknown:
        raise ConfigError(f"variants_to_train: {unknown} not among variants {sorted(config['variants'])}")
    check_subset(config)
    check_seed_sets(config)
    check_stability(config)
    check_design(config)
    check_sensitivity(config)
    check_lecture_cell(config)
    check_restore(config)
    check_tracking(config)


def check_restore(config: dict) -> None:
    """Stages to restore come with the archive to restore them from."""
    restore = config["restore"]
    if restore["stages"] and not restore.get("facts"):
        raise ConfigError(f"restore.facts: restoring {restore['stages']} needs the published facts.tar.xz to read")


TRACKING_SCHEMES = {
    "http": "http://HOST:PORT",
    "https": "https://HOST",
    "file": "file:PATH",
    "sqlite": "sqlite:///PATH",
}


def check_tracking(config: dict) -> None:
    """An MLflow URI that names a server or a store: a typo is refused before any job, not found by each."""
    uri = config["tracking"]["mlflow"]["uri"]
    if uri is None:
        return
    parts = urlsplit(uri)
    remote = parts.scheme in ("http", "https")
    if parts.scheme not in TRACKING_SCHEMES or (remote and not parts.hostname) or not (parts.netloc or parts.path):
        raise ConfigError(
            f"tracking.mlflow.uri: {uri!r} is not an MLflow tracking URI ({', '.join(TRACKING_SCHEMES.values())}, "
            "or null for no MLflow)"
        )


def check_subset(config: dict) -> None:
    """A class-stratified subset has at least one image of every class of every dataset a variant trains on
    (the study's subset, and a variant's own)."""
    subsets = [("subset", config["subset"], trained_datasets(config))]
    subsets += [
        (f"variants.{name}.subset", spec["subset"], [spec["dataset"]])
        for name, spec in config["variants"].items()
        if "subset" in spec
    ]
    for key, subset, datasets in subsets:
        for split, cap in subset.items():
            for dataset in datasets:
                classes = FORMATS[config["datasets"][dataset]["format"]].classes
                if cap < classes:
                    raise ConfigError(
                        f"{key}.{split}: {cap} images cannot hold every one of {dataset}'s {classes} classes; "
                        f"give at least {classes}"
                    )


def check_lecture_cell(config: dict) -> None:
    """The lecture's cell names variants, and has seeds to train them on."""
    lecture = config["lecture_cell"]
    unknown = [name for name in lecture["variants"] if name not in config["variants"]]
    if unknown:
        raise ConfigError(f"lecture_cell.variants: {unknown} are not variants")
    if lecture["variants"] and not lecture["seeds"]:
        raise ConfigError("lecture_cell: its variants need seeds")


def check_sensitivity(config: dict) -> None:
    """The map's variants exist, it has a grid to vary, and counts stay whole numbers."""
    sensitivity = config["sensitivity"]
    unknown = [name for name in sensitivity["variants"] if name not in config["variants"]]
    if unknown:
        raise ConfigError(f"sensitivity.variants: {unknown} are not variants")
    if sensitivity["variants"] and not (sensitivity["grid"] and sensitivity["seeds"]):
        raise ConfigError("sensitivity: a map of variants needs a grid and seeds")
    along = sensitivity.get("trend_along")
    if along and along not in sensitivity["grid"]:
        raise ConfigError(f"sensitivity.trend_along: {along!r} is not a key of the grid {sorted(sensitivity['grid'])}")
    for key in ("epochs", "batch_size"):
        fractional = [value for value in sensitivity["grid"].get(key, []) if value != int(value)]
        if fractional:
            raise ConfigError(f"sensitivity.grid.{key}: {fractional} are not whole numbers")


def seed_sets(config: dict) -> dict[str, list[int]]:
    """Every set of seeds the config names, by its key: confirmation, the stability check, the sensitivity map,
    the lecture's cell, and exploration (the seeds that chose the settings)."""
    return {
        "seeds": list(config["seeds"]),
        "stability.seeds": list(config["stability"]["seeds"]),
        "sensitivity.seeds": list(config["sensitivity"]["seeds"]),
        "lecture_cell.seeds": list(config["lecture_cell"]["seeds"]),
        "design.exploration_seeds": list(config["design"]["exploration_seeds"]),
    }


def check_seed_sets(config: dict) -> None:
    """No seed is in two sets: a seed that chose a setting never confirms it, and each set of runs (the
    confirmation, the stability check, the map) has seeds of its own."""
    named = list(seed_sets(config).items())
    for i, (key, seeds) in enumerate(named):
        for other, others in named[i + 1 :]:
            shared = sorted(set(seeds) & set(others))
            if not shared:
                continue
            if other == "design.exploration_seeds":
                raise ConfigError(
                    f"{key}: {shared} are design.exploration_seeds; seeds that chose the settings cannot confirm them"
                )
            raise ConfigError(f"{other}: {shared} are also in {key}; each set of runs needs seeds of its own")


def check_design(config: dict) -> None:
    """The looks grow to exactly the seeds there are."""
    design = config["design"]
    looks = design["looks"]
    if looks and (looks != sorted(looks) or looks[-1] != len(config["seeds"])):
        raise ConfigError(
            f"design.looks: {looks} must increase and end at the number of seeds ({len(config['seeds'])}); a "
            "layer that sets seeds sets its looks too ([] for one look with every seed)"
        )


def check_stability(config: dict) -> None:
    """A stability check trains variants the study trains."""
    stability = config["stability"]
    trained = trained_variants(config)
    unknown = [name for name in stability["variants"] if name not in trained]
    if unknown:
        raise ConfigError(f"stability.variants: {unknown} are not among the variants this study trains {trained}")


def check_image_sizes(name: str, spec: dict, shape: tuple[int, ...]) -> None:
    """Raise ConfigError when a variant's 2x2 poolings shrink its dataset's images below 1x1, or when a skip
    connection meets an odd size (its strided conv would not match the pooled output)."""
    height, width = shape[0], shape[1]
    for block in range(1, len(spec["blocks"]) + 1):
        if spec.get("skip") and (height % 2 or width % 2):
            raise ConfigError(
                f"variants.{name}.skip: block {block} gets {height}x{width} images, an odd size, where the "
                f"skip connection's strided conv and the 2x2 pooling disagree on the output size"
            )
        height, width = height // 2, width // 2
        if height < 1 or width < 1:
            raise ConfigError(
                f"variants.{name}.blocks: {len(spec['blocks'])} blocks of 2x2 pooling shrink the "
                f"{shape[0]}x{shape[1]} images of {spec['dataset']} below 1x1 (at block {block})"
            )


def train_mem_mb(spec: dict) -> int:
    """Memory to ask for one training job: the runtime and data, plus room per conv layer."""
    return int(4000 + 500 * conv_count(spec) * max(spec["width"], 0.25))


def train_runtime_minutes(spec: dict) -> int:
    """Wall time to ask for one training job on a GPU, with a generous margin."""
    return int(15 + spec["epochs"] * conv_count(spec) * max(spec["width"], 0.25))


def merge_layers(base: dict, layer: dict) -> dict:
    """``layer`` over ``base``, key by key into nested mappings, as Snakemake layers --configfile files."""
    merged = dict(base)
    for key, value in layer.items():
        merged[key] = (
            merge_layers(merged[key], value) if isinstance(value, dict) and isinstance(merged.get(key), dict) else value
        )
    return merged


def schema_defaults(section: str, schema: str | os.PathLike = DEFAULT_SCHEMA) -> dict:
    """The defaults the schema gives a section's keys: the one place a default is written."""
    properties = yaml.safe_load(Path(schema).read_text())["properties"][section]["properties"]
    return {key: spec["default"] for key, spec in properties.items() if "default" in spec}


def schema_problem(config: dict, schema: str | os.PathLike = DEFAULT_SCHEMA) -> str | None:
    """The config's most relevant schema error in one line, naming its key, with the closest known key for a
    misspelled one; None when the config is valid."""
    import difflib

    import jsonschema

    validator = jsonschema.Draft202012Validator(yaml.safe_load(Path(schema).read_text()))
    error = jsonschema.exceptions.best_match(validator.iter_errors(config))
    if error is None:
        return None
    where = ".".join(str(part) for part in error.absolute_path)
    if error.validator == "additionalProperties" and isinstance(error.instance, dict):
        known = list(error.schema.get("properties", {}))
        unknown = sorted(set(error.instance) - set(known))[0]
        close = difflib.get_close_matches(unknown, known, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else f" (known keys: {', '.join(known)})"
        return f"{where + '.' if where else ''}{unknown}: {unknown!r} was unexpected{hint}"
    return f"{where or 'config'}: {error.message}"


def check_schema(config: dict, schema: str | os.PathLike = DEFAULT_SCHEMA) -> None:
    """Raise ConfigError in one line, naming the key, when the config breaks the schema."""
    problem = schema_problem(config, schema)
    if problem:
        raise ConfigError(problem)


def validate_with_defaults(config: dict, schema: str | os.PathLike) -> None:
    """Validate ``config`` against the JSON schema, filling in its defaults, as Snakemake's
    validate(set_default=True) does; for tools that run without Snakemake, such as the GPU check."""
    import jsonschema

    base = jsonschema.Draft202012Validator

    def properties_with_defaults(validator, properties, instance, subschema):
        if isinstance(instance, dict):
            for name, property_schema in properties.items():
                if "default" in property_schema:
                    instance.setdefault(name, copy.deepcopy(property_schema["default"]))
        yield from base.VALIDATORS["properties"](validator, properties, instance, subschema)

    validator = jsonschema.validators.extend(base, {"properties": properties_with_defaults})
    validator(yaml.safe_load(Path(schema).read_text())).validate(config)


def apply_extend(config: dict) -> dict:
    """Add the lists under ``extend`` to the lists they name, in place, and drop ``extend``.

    A config layer replaces every list it sets, as Snakemake layers --configfile files; under ``extend`` it
    adds to one instead: ``extend: {claims: [...]}`` keeps the claims beneath it and appends its own, and a
    dotted key names a nested list (``fix_ranking.variants``). When several layers extend the same list, their
    items add up in the layers' order (``extend_of_layers``).
    """
    for path, items in (config.pop("extend", None) or {}).items():
        *parents, key = path.split(".")
        target = config
        for name in parents:
            target = target.get(name) if isinstance(target, dict) else None
        if not isinstance(target, dict) or not isinstance(target.get(key), list):
            raise ConfigError(f"extend.{path}: the config has no list '{path}' to add to")
        if not isinstance(items, list):
            raise ConfigError(f"extend.{path}: give a list of the items to add")
        target[key] = [*target.get(key, []), *items]
    return config


def extend_of_layers(config: dict, paths: list[str | os.PathLike]) -> dict:
    """``config``'s ``extend``, made of every layer's in order where the layer files at ``paths`` have one: merged
    as Snakemake merges layers, a later layer's list under ``extend`` would replace an earlier one's."""
    layers = [yaml.safe_load(Path(path).read_text()) or {} for path in paths]
    if not any(layer.get("extend") for layer in layers):
        return config.get("extend") or {}
    extend: dict = {}
    for layer in layers:
        for path, items in (layer.get("extend") or {}).items():
            if not isinstance(items, list):
                raise ConfigError(f"extend.{path}: give a list of the items to add")
            extend[path] = [*extend.get(path, []), *items]
    return extend


def load_config(paths: list[str | os.PathLike], schema: str | os.PathLike = DEFAULT_SCHEMA) -> dict:
    """Config files layered in order, validated with the schema's defaults filled in and cross-checked.

    The way the workflow reads its config, for tools that run outside it (the benchmark, the plan).
    """
    config: dict = {}
    for path in paths:
        config = merge_layers(config, yaml.safe_load(Path(path).read_text()) or {})
    config["extend"] = extend_of_layers(config, paths)
    apply_extend(config)
    check_renamed_keys(config)
    validate_with_defaults(config, schema)
    check_config(config)
    return config
