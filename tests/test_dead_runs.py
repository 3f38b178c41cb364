"""A run ends once it is dead, is judged stuck for it, and ends the same way when killed and resumed."""

import json
import subprocess

import pandas as pd
import pytest
from conftest import SMALL_SPEC, job_command, judged, kill_once_sealed, make_run
from fakedata import prepared_cifar10

from study.reporting.run_words import outcome_reason
from study.training.dead_runs import dead_layer, rule_met_at
from study.training.loop import train_run

# Adam at a learning rate of 3 kills every ReLU of the first conv layer within a few steps on these images,
# as a full-width 12-conv net does at the lecture's rate on CIFAR-10. 8 steps an epoch.
DYING = SMALL_SPEC | {"blocks": [[8], [16]], "dense": [32], "epochs": 5, "batch_size": 50, "learning_rate": 3.0}
DIAGNOSTICS = {"probe_images": 20, "saturation": 0.01, "step_interval": 2, "train_probe_images": 40}
# a check every 4 steps, 8 in a row: it ends in the fourth of its five epochs, after two were checkpointed
SLOW_RULE = {"stop": True, "check_every_steps": 4, "consecutive_checks": 8}
TABLES = ("history.csv", "steps.csv", "diagnostics.csv")


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return prepared_cifar10(tmp_path_factory.mktemp("dead"), n_train=400, n_val=50)


def dying_run(dead_runs: dict, spec: dict = DYING):
    return make_run(spec, 4, variant="dying", diagnostics=DIAGNOSTICS, dead_runs=dead_runs)


def train(data, run, name: str, **options) -> dict:
    return train_run(run, data / "data", data / "stats.json", data / name, threads=1, **options)


def test_the_lowest_layer_dead_with_no_gradient_at_or_below_it_is_found():
    names = ["conv1", "conv2", "conv3", "dense"]
    assert dead_layer(names, [0.0, 0.0, 0.5, 0.2], {"conv1": 0.3, "conv2": 1.0, "conv3": 1.0}) == "conv2"
    assert dead_layer(names, [0.0, 0.0, 0.0, 0.2], {"conv1": 1.0, "conv2": 1.0}) == "conv1"


def test_a_layer_that_is_not_wholly_dead_or_leaves_a_gradient_below_is_not_dead():
    names = ["conv1", "conv2", "dense"]
    assert dead_layer(names, [0.0, 0.0, 0.2], {"conv1": 0.999, "conv2": 0.98}) is None
    # bypassed by a skip connection, or a leaky ReLU: the layers below still learn
    assert dead_layer(names, [1e-9, 0.0, 0.2], {"conv1": 0.5, "conv2": 1.0}) is None
    assert dead_layer(names, [0.0, 0.0, 0.2], {}) is None


def test_the_rule_is_met_at_the_first_run_of_enough_dead_checks():
    checks = [{"step": s, "dead_layer": layer} for s, layer in [(10, "a"), (20, None), (30, "a"), (40, "b"), (50, "a")]]
    assert rule_met_at(checks, 3) == 50
    assert rule_met_at(checks, 1) == 10
    assert rule_met_at(checks[:4], 3) is None


def test_a_dead_run_ends_there_and_is_judged_stuck_and_the_same_run_with_the_stop_off_trains_on(data):
    rule = {"stop": True, "check_every_steps": 2, "consecutive_checks": 3}
    stopped = train(data, dying_run(rule), "stopped")
    record = stopped["dead_runs"]
    assert record["checked"] and record["stopped"]["step"] == record["rule_met_at_step"]
    end = record["stopped"]["step"]
    assert stopped["steps"] == end < 8 * DYING["epochs"]
    assert record["stopped"] == {"step": end, "layer": record["checks"][-1]["dead_layer"], "checks": 3}
    history = pd.read_csv(data / "stopped" / "history.csv")
    assert history["epoch"].tolist() == list(range(1, (end - 1) // 8 + 2)), "the stopped epoch closes"
    assert pd.read_csv(data / "stopped" / "steps.csv")["step"].iloc[-1] == end

    verdict = judged(data / "stopped")
    assert verdict["outcome"] == "stuck"
    assert verdict["outcome_basis"]["rule"] == "ended_dead"
    assert outcome_reason(verdict["outcome_basis"]).startswith(f"ended dead at step {end}: no unit of block1_conv1")

    trained_on = train(data, dying_run(rule | {"stop": False}), "trained-on")
    assert trained_on["steps"] == 8 * DYING["epochs"]
    assert trained_on["dead_runs"]["stopped"] is None
    assert trained_on["dead_runs"]["rule_met_at_step"] == end, "the checks do not change what trains"
    assert trained_on["dead_runs"]["checks"][: len(record["checks"])] == record["checks"]
    steps = [pd.read_csv(data / name / "steps.csv") for name in ("stopped", "trained-on")]
    pd.testing.assert_frame_equal(steps[1][steps[1]["step"] <= end], steps[0], check_exact=True)
    assert judged(data / "trained-on")["outcome_basis"]["rule"] != "ended_dead"


def test_a_net_with_batch_normalization_is_not_checked(data):
    metrics = train(data, dying_run(SLOW_RULE, DYING | {"batchnorm": True, "epochs": 1}), "batchnorm")
    assert metrics["dead_runs"] == {"checked": False, "checks": [], "rule_met_at_step": None, "stopped": None}


def launch(data, name: str, checkpoint: bool):
    checkpoint_dir = str(data / f"{name}-checkpoint") if checkpoint else None
    command = job_command(dying_run(SLOW_RULE), data, name, checkpoint_dir=checkpoint_dir)
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def assert_same_run(data, resumed: str, straight: str) -> None:
    for table in TABLES:
        frames = [
            pd.read_csv(data / name / table).drop(columns=["seconds"], errors="ignore") for name in (resumed, straight)
        ]
        pd.testing.assert_frame_equal(frames[0], frames[1], check_exact=True, obj=table)
    records = [json.loads((data / name / "metrics.json").read_text())["dead_runs"] for name in (resumed, straight)]
    assert records[0] == records[1]


def test_a_run_killed_before_it_ends_dead_resumes_its_count_and_ends_at_the_same_step(data):
    assert launch(data, "straight", checkpoint=False).wait(timeout=300) == 0
    straight = json.loads((data / "straight" / "metrics.json").read_text())["dead_runs"]
    stop_epoch = (straight["stopped"]["step"] - 1) // 8 + 1
    assert stop_epoch >= 4, "the rule must end the run after the kill"

    victim = launch(data, "killed", checkpoint=True)
    saved = kill_once_sealed(victim, data / "killed-checkpoint", epoch=2, poll_seconds=0.02)
    state = json.loads((data / "killed-checkpoint" / "state.json").read_text())
    assert saved < stop_epoch and state["stopped_dead"] is None
    assert any(check["dead_layer"] for check in state["dead_checks"]), "the kill lands mid-count"

    rerun = launch(data, "killed", checkpoint=True)
    output, _ = rerun.communicate(timeout=300)
    assert rerun.returncode == 0, output
    assert f"resuming from the checkpoint of epoch {saved}" in output
    assert_same_run(data, "killed", "straight")


def test_a_run_killed_after_it_ended_dead_trains_nothing_more_when_resumed(data, monkeypatch):
    # killed after its last checkpoint and before its outputs: here, the checkpoint is kept instead of removed
    import study.training.loop as loop

    run = dying_run(SLOW_RULE)
    checkpoint = data / "ended-checkpoint"
    with monkeypatch.context() as kept:
        kept.setattr(loop.shutil, "rmtree", lambda path: None)
        first = train(data, run, "ended", checkpoint_dir=checkpoint)
    assert json.loads((checkpoint / "state.json").read_text())["stopped_dead"] == first["dead_runs"]["stopped"]
    tables = {name: pd.read_csv(data / "ended" / name) for name in TABLES}
    for name in TABLES:
        (data / "ended" / name).unlink()

    again = train(data, run, "ended", checkpoint_dir=checkpoint)
    assert again["resumed_from_epoch"] == first["epochs"] == again["epochs"]
    assert again["steps"] == first["steps"] and again["dead_runs"] == first["dead_runs"]
    assert not checkpoint.exists()
    for name, table in tables.items():
        pd.testing.assert_frame_equal(pd.read_csv(data / "ended" / name), table, check_exact=True, obj=name)


def test_a_dead_run_ends_under_jax_too(data):
    # Adam at 3 saturates the softmax under JAX instead (no gradient anywhere, units alive); a deeper net at
    # 0.03 dies in a few steps
    spec = DYING | {"blocks": [[8, 8, 8], [16, 16, 16]], "learning_rate": 0.03}
    jax = {"backend": "jax", "precision": "float32", "steps_per_execution": 1}
    rule = {"stop": True, "check_every_steps": 2, "consecutive_checks": 3}
    run = make_run(spec, 4, variant="dying", diagnostics=DIAGNOSTICS, dead_runs=rule, training=jax)
    job = subprocess.run(job_command(run, data, "jax"), capture_output=True, text=True, timeout=300)
    assert job.returncode == 0, job.stdout[-2000:] + job.stderr[-3000:]
    stopped = json.loads((data / "jax" / "metrics.json").read_text())["dead_runs"]["stopped"]
    assert stopped["layer"].startswith("block") and stopped["step"] < 8 * DYING["epochs"]


def calibration_record(seed: int, dead: list[bool], stop: bool = False) -> dict:
    checks = [{"step": 10 * (i + 1), "dead_layer": "block1_conv1" if d else None} for i, d in enumerate(dead)]
    return {
        "variant": "dying",
        "seed": seed,
        "steps": 10 * len(dead),
        "run": {"dead_runs": {"stop": stop, "check_every_steps": 10, "consecutive_checks": 3}},
        "dead_runs": {"checked": True, "checks": checks, "rule_met_at_step": rule_met_at(checks, 3), "stopped": None},
    }


def test_the_calibration_counts_the_runs_that_met_the_rule_and_came_back_after_it():
    from study.analysis.dead_runs import calibration_count, calibration_table

    records = [
        calibration_record(1, [True] * 6),  # met at 30, dead to the end
        calibration_record(2, [True, True, True, True, False, False]),  # met at 30, alive at 50
        calibration_record(3, [False, True, True, False, True, True]),  # never three in a row
        calibration_record(4, [True] * 6),  # met at 30, dead on the probe, yet left the plateau at 45
        calibration_record(5, [True] * 3, stop=True),  # a stopped run is no calibration
    ]
    runs = pd.DataFrame(
        {
            "variant": "dying",
            "seed": [1, 2, 3, 4, 5],
            "plateau_exit_step": [None, None, 20, 45, None],
            "outcome": ["stuck", "stuck", "learns", "stuck", "stuck"],
        }
    )
    table = calibration_table(records, runs)
    assert table["rule_met_at_step"].fillna(0).tolist()[:4] == [30, 30, 0, 30]
    assert table["came_back"].tolist()[:4] == [False, True, None, True]
    assert table.loc[1, "alive_again_at_step"] == 50
    assert calibration_count(table) == {"runs": 4, "met_rule": 3, "came_back": 2, "median_steps_after_rule": 30.0}
