import json

import pandas as pd

from study.reporting.diff import diff_markdown, main

CLAIMS = [
    {"claim": "deep is stuck", "evidence": "5/5 seeds, rate in [0.57, 1.00]", "verdict": "confirmed"},
    {"claim": "fix learns", "evidence": "4/5 seeds, rate in [0.38, 0.96]", "verdict": "undetermined"},
]


def write_study(folder, claims, runs, provenance=None, with_runs=True):
    tables = folder / "tables"
    tables.mkdir(parents=True)
    pd.DataFrame(claims).to_csv(tables / "claims.csv", index=False)
    runs = pd.DataFrame(runs, columns=["variant", "seed", "verdict", "final_train_accuracy", "final_val_accuracy"])
    runs["seconds_per_epoch"] = 2.0
    if with_runs:
        runs.to_csv(tables / "runs.csv", index=False)
    summary = runs.groupby("variant", as_index=False).agg(
        final_train_accuracy_mean=("final_train_accuracy", "mean"),
        final_val_accuracy_mean=("final_val_accuracy", "mean"),
        verdicts=("verdict", lambda v: " ".join(v)),
        seconds_per_epoch=("seconds_per_epoch", "mean"),
    )
    summary.to_csv(tables / "summary.csv", index=False)
    if provenance is not None:
        (tables / "provenance.json").write_text(json.dumps(provenance))
    return folder


PROVENANCE = {"training": [{"precision": "float32"}], "config": {"seeds": [1, 2], "subset": {"train": 100}}}


def test_the_diff_names_changed_claims_per_seed_deltas_and_settings(tmp_path):
    a = write_study(
        tmp_path / "a", CLAIMS, [("fix", 1, "learns", 0.30, 0.25), ("fix", 2, "undecided", 0.15, 0.14)], PROVENANCE
    )
    b_claims = [CLAIMS[0], CLAIMS[1] | {"evidence": "5/5 seeds, rate in [0.57, 1.00]", "verdict": "confirmed"}]
    b_provenance = {"training": [{"precision": "mixed_bfloat16"}], "config": PROVENANCE["config"]}
    b = write_study(
        tmp_path / "b", b_claims, [("fix", 1, "learns", 0.35, 0.25), ("fix", 2, "learns", 0.25, 0.2)], b_provenance
    )
    text = diff_markdown(a, b)
    assert (
        "| fix learns | 4/5 seeds, rate in [0.38, 0.96] | undetermined | 5/5 seeds, rate in [0.57, 1.00] | confirmed |"
        in text
    )
    assert "deep is stuck" not in text, "unchanged claims are not listed"
    assert "## Final metrics per variant x seed" in text
    assert "| fix | 1 | 0.300 | 0.350 | 0.050 | 0.250 | 0.250 | 0.000 | learns | 2.0 -> 2.0 |" in text
    assert "| fix | 2 | 0.150 | 0.250 | 0.100 |" in text and "undecided -> learns" in text
    assert '| training | [{"precision": "float32"}] | [{"precision": "mixed_bfloat16"}] |' in text
    assert "config.seeds" not in text, "equal settings are not listed"


def test_published_runs_without_seed_rows_or_provenance_are_compared_by_variant(tmp_path, capsys):
    rows = [("fix", 1, "learns", 0.30, 0.25), ("fix", 2, "learns", 0.20, 0.15)]
    a = write_study(tmp_path / "a", CLAIMS, rows, with_runs=False)
    b = write_study(tmp_path / "b", CLAIMS, rows, PROVENANCE)
    main([str(a), str(b)])
    text = capsys.readouterr().out
    assert "None: every claim has the same verdict in A and B." in text
    assert "## Final metrics per variant (mean over seeds)" in text
    assert "| fix | 0.250 | 0.250 | 0.000 |" in text
    assert "Not compared: provenance.json is missing from A." in text


def test_claims_with_their_tests_are_compared_with_the_same_tests(tmp_path):
    from study.analysis.agreement import compare_claims

    def claims(k, n=7):
        row = {"claim": "deep is stuck", "kind": "rate", "seeds": "", "evidence": f"{k}/{n}", "verdict": "x"}
        return pd.DataFrame([row | {"n_seeds": n, "n_outcome": k, "estimate": k / n, "sd": None}])

    differ = compare_claims(claims(7), claims(0), 0.05).iloc[0]
    assert differ["agreement"] == "differ" and differ["difference"] == -1.0
    assert differ["difference_low"] < -0.5 and differ["p_value"] < 0.001
    alike = compare_claims(claims(6), claims(5), 0.05).iloc[0]
    assert alike["agreement"] == "no evidence they differ" and alike["difference_low"] < 0 < alike["difference_high"]
    runs = [("deep", 1, "stuck", 0.1, 0.1)]
    a = write_study(tmp_path / "a", claims(7).to_dict("records"), runs)
    b = write_study(tmp_path / "b", claims(0).to_dict("records"), runs)
    text = diff_markdown(a, b)
    assert "## Claims: do A and B differ? (B - A, alpha 0.05)" in text and "| differ |" in text
