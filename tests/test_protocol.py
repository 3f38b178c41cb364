"""The protocol: fixed once before the runs, hashed, and compared with the config's when the claims are judged."""

import json
import shutil

import pytest
from conftest import REPO

from study.config import load_config
from study.protocol import (
    JUDGING_CODE,
    MissingProtocolError,
    freeze,
    is_frozen,
    judging_code,
    protocol_hash,
    protocol_of,
    protocol_status,
    write_protocol,
)
from study.provenance import git_commit
from study.reporting.first_screen import protocol_note


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


def test_the_first_run_freezes_the_protocol_under_the_rules_it_trains_under_and_a_later_change_is_seen(
    config, tmp_path, capsys
):
    path = tmp_path / "results" / "protocol.json"
    changed = config | {"design": config["design"] | {"alpha": 0.01}}
    # written under the config of a study that then stopped before training; it trains under another
    written = write_protocol(config, path)
    assert not is_frozen(path)
    sha = freeze(path, changed)
    first = json.loads(path.read_text())
    assert sha == first["sha256"] == protocol_hash(protocol_of(changed)) != written["sha256"]
    assert "written again under the config's" in capsys.readouterr().out
    # frozen: read-only by its mode (which holds for root), and never written again
    assert is_frozen(path) and not path.stat().st_mode & 0o222
    assert freeze(path, config) == sha and write_protocol(config, path) == first == json.loads(path.read_text())
    assert protocol_status(first, changed, [sha] * 3)["fixed"]
    status = protocol_status(first, config, [sha] * 3)
    assert status["changed"] and not status["fixed"]
    assert "The protocol changed after the first run" in protocol_note(status)
    late = protocol_status(first, changed, [sha, None])
    assert late["runs_under_other"] == 1 and "1 runs were not trained under the protocol" in protocol_note(late)
    assert "No protocol was fixed" in protocol_note(protocol_status(None, config, []))
    with pytest.raises(MissingProtocolError, match="none.json: no protocol"):
        freeze(tmp_path / "none.json", config)


def test_the_hash_does_not_depend_on_key_order(config):
    protocol = protocol_of(config)
    reordered = dict(reversed(list(protocol.items())))
    assert protocol_hash(reordered) == protocol_hash(protocol)


def test_the_protocol_fixes_the_rules_the_judging_code_the_commit_the_constants_the_looks_and_the_map(config):
    protocol = protocol_of(config | {"sensitivity": SENSITIVITY})
    assert set(protocol["judging_code"]) >= {"claims.py", "outcomes.py", "statistics.py", "sensitivity.py"}
    assert protocol["commit"] == git_commit(REPO)
    assert protocol["test_constants"]["CONFIDENCE"] == 0.95 and "POWER" in protocol["test_constants"]
    assert "Bonferroni" in protocol["looks_rule"] and "Holm" in protocol["looks_rule"]
    trend = protocol["map"]["trend_test"]
    assert protocol["map"]["grid"] == SENSITIVITY["grid"] and trend["along"] == "learning_rate"
    assert trend["claims"] == [f"fewer runs of {v} learn as learning_rate increases" for v in SENSITIVITY["variants"]]
    assert protocol_of(config)["map"] == {}  # no map, none planned


def test_a_change_to_the_judging_code_changes_the_protocols_hash(tmp_path):
    analysis = tmp_path / "analysis"
    shutil.copytree(JUDGING_CODE, analysis)
    before = judging_code(analysis)
    assert before == judging_code(JUDGING_CODE)
    claims = analysis / "claims.py"
    claims.write_text(claims.read_text().replace('DEFAULT_FAMILY = "lecture"', 'DEFAULT_FAMILY = "other"'))
    after = judging_code(analysis)
    assert after["claims.py"] != before["claims.py"] and after["outcomes.py"] == before["outcomes.py"]
    protocol = {"judging_code": before}
    assert protocol_hash(protocol) != protocol_hash({"judging_code": after})


SENSITIVITY = {
    "variants": ["cifar_12conv_relu", "cifar_12conv_relu_he"],
    "grid": {"learning_rate": [0.001, 0.002], "width": [0.25, 0.5]},
    "seeds": [301, 302],
    "trend_along": "",
    "lecture": {},
}
