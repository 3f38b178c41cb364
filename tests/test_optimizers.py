"""The optimizer and learning-rate schedule a variant's config names, built once for every caller."""

import keras
import numpy as np
import pytest

from study.training.optimizers import build_optimizer, describe, learning_rate

SETTINGS = {"name": "adam", "momentum": 0.9, "weight_decay": 0.004, "warmup_steps": 0, "schedule": "constant"}


def spec(**optimizer):
    return {"learning_rate": 0.1, "optimizer": SETTINGS | optimizer}


def rates(schedule, steps):
    return [float(schedule(step)) for step in steps]


def test_without_a_schedule_the_rate_is_the_variants_number_as_before():
    assert learning_rate(spec(), 100) == 0.1
    assert learning_rate({"learning_rate": 0.002}, 100) == 0.002, "a spec from before the optimizer key: Adam"
    optimizer = build_optimizer({"learning_rate": 0.002}, 100)
    assert isinstance(optimizer, keras.optimizers.Adam) and float(optimizer.learning_rate) == pytest.approx(0.002)


def test_a_warm_up_rises_linearly_from_zero_then_holds_or_follows_a_cosine_to_zero():
    held = learning_rate(spec(warmup_steps=10), 110)
    assert rates(held, [0, 5, 10, 60, 110]) == pytest.approx([0.0, 0.05, 0.1, 0.1, 0.1])
    cosine = learning_rate(spec(warmup_steps=10, schedule="cosine"), 110)
    # after the warm-up, 0.1 * (1 + cos(pi * t / 100)) / 2 over the 100 remaining steps
    assert rates(cosine, [0, 5, 10, 60, 110]) == pytest.approx([0.0, 0.05, 0.1, 0.05, 0.0], abs=1e-7)
    plain_cosine = learning_rate(spec(schedule="cosine"), 100)
    assert rates(plain_cosine, [0, 25, 100]) == pytest.approx([0.1, 0.1 * (1 + np.cos(np.pi / 4)) / 2, 0.0])


def test_each_optimizer_is_built_with_its_own_settings():
    sgd = build_optimizer(spec(name="sgd", momentum=0.8), 10)
    assert isinstance(sgd, keras.optimizers.SGD) and sgd.momentum == 0.8
    adamw = build_optimizer(spec(name="adamw", weight_decay=0.01), 10)
    assert isinstance(adamw, keras.optimizers.AdamW) and adamw.weight_decay == 0.01
    assert describe(spec(name="sgd", warmup_steps=20, schedule="cosine")) == (
        "SGD (momentum 0.9) at lr 0.1, warm-up 20 steps, cosine rate"
    )
    assert describe({"learning_rate": 0.001}) == "Adam at lr 0.001, constant rate"


def test_the_schema_accepts_the_optimizers_and_activations_it_names_and_fills_their_defaults(tmp_path):
    import yaml
    from jsonschema import ValidationError

    from study.config import REPOSITORY, load_config

    def layered(variant):
        layer = tmp_path / "layer.yaml"
        layer.write_text(yaml.safe_dump({"variants": {"mine": variant}, "variants_to_train": ["mine"]}))
        return load_config([REPOSITORY / "config" / "config.yaml", layer])

    variant = {"dataset": "cifar10", "blocks": [[8]], "activation": "gelu", "optimizer": {"name": "sgd"}}
    assert layered(variant)["variants"]["mine"]["optimizer"] == SETTINGS | {"name": "sgd"}
    assert layered(variant)["variants"]["cifar_12conv_relu"]["optimizer"] == SETTINGS, "Adam, as the lecture's"
    for wrong in ({"activation": "swish"}, {"optimizer": {"name": "rmsprop"}}, {"optimizer": {"schedule": "step"}}):
        with pytest.raises(ValidationError):
            layered(variant | wrong)
