"""The protocol: fixed once before the runs, hashed, and compared with the config's when the claims are judged."""

import json

import pytest
from conftest import REPO

from study.config import load_config
from study.protocol import freeze, protocol_hash, protocol_of, protocol_status, recorded_hash
from study.reporting.views import protocol_note


@pytest.fixture
def config():
    return load_config([REPO / "config" / "config.yaml"])


def test_the_protocol_holds_the_design_the_claims_the_thresholds_and_every_claimed_recipe(config):
    protocol = protocol_of(config)
    assert protocol["design"] == config["design"] and protocol["claims"] == config["claims"]
    assert protocol["outcomes"] == config["outcomes"] and protocol["seeds"] == config["seeds"]
    recipe = protocol["recipes"]["cifar_12conv_relu_he"]
    assert recipe["spec"]["initializer"] == config["variants"]["cifar_12conv_relu_he"]["initializer"]
    assert "seed" not in recipe and "lecture" not in recipe["spec"]
    named = {name for claim in config["claims"] for name in (claim["variant"], claim.get("baseline"))}
    assert set(protocol["recipes"]) == named - {None}


def test_the_protocol_is_written_once_and_a_later_change_is_seen(config, tmp_path):
    path = tmp_path / "results" / "protocol.json"
    first = freeze(config, path)
    assert first["sha256"] == protocol_hash(protocol_of(config)) == recorded_hash(path)
    changed = config | {"design": config["design"] | {"alpha": 0.01}}
    assert freeze(changed, path) == first == json.loads(path.read_text())  # never rewritten
    assert protocol_status(first, config, [first["sha256"]] * 3)["fixed"]
    status = protocol_status(first, changed, [first["sha256"]] * 3)
    assert status["changed"] and not status["fixed"]
    assert "The protocol changed after the first run" in protocol_note(status)
    late = protocol_status(first, config, [first["sha256"], None])
    assert late["runs_under_other"] == 1 and "1 runs were not trained under the protocol" in protocol_note(late)
    assert "No protocol was fixed" in protocol_note(protocol_status(None, config, []))
    assert recorded_hash(tmp_path / "none.json") is None


def test_the_hash_does_not_depend_on_key_order(config):
    protocol = protocol_of(config)
    reordered = dict(reversed(list(protocol.items())))
    assert protocol_hash(reordered) == protocol_hash(protocol)
