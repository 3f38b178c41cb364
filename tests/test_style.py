"""The workflow and code stay lint-clean: snakemake --lint, snakefmt and ruff."""

import subprocess
import sys
from pathlib import Path

from conftest import REPO, SNAKEMAKE

BIN = Path(sys.executable).parent


def run(command, cwd=REPO):
    return subprocess.run(command, cwd=cwd, capture_output=True, text=True)


def test_snakemake_lint_is_clean(tmp_path):
    result = run(
        [
            SNAKEMAKE,
            "--lint",
            "--snakefile",
            str(REPO / "Snakefile"),
            "--directory",
            str(tmp_path),
            "--configfile",
            str(REPO / "config" / "config.yaml"),
        ]
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Congratulations, your workflow is in a good condition" in result.stdout + result.stderr


def test_snakefmt_is_clean():
    result = run([str(BIN / "snakefmt"), "--check", "Snakefile", "workflow"])
    assert result.returncode == 0, result.stdout + result.stderr


def test_ruff_is_clean():
    result = run([str(BIN / "ruff"), "check", "src", "workflow", "tests", "benchmarks"])
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_licence_and_the_citation_agree_and_cite_the_lecture():
    import yaml

    citation = yaml.safe_load((REPO / "CITATION.cff").read_text())
    assert citation["cff-version"] == "1.2.0" and citation["type"] == "software"
    assert (REPO / "LICENSE").read_text().startswith(f"{citation['license']} License\n")
    lecture = citation["references"][0]
    assert lecture["title"] == "CNN Training: Problem-Solving Approach"
    assert lecture["authors"] == [{"family-names": "Dinh", "given-names": "Quang-Vinh"}]
