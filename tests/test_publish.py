import pandas as pd
import pytest

from study.publish import END, START, replace_results_block, reproduction_readme

PROVENANCE = {
    "git_commit": "abc123",
    "training_commits": ["abc123"],
    "devices": ["CPU: Intel(R) Xeon(R) Processor"],
    "versions": [{"python": "3.11", "tensorflow": "2.21.0"}],
    "settings": [
        {"precision": "mixed_bfloat16", "precision_choice": "auto: CPU with AMX bf16 units", "threads": 2},
        {"precision": "mixed_bfloat16", "precision_choice": "auto: CPU with AMX bf16 units", "threads": 1},
    ],
    "data": {"cifar10": {"sources": {"cifar-10-binary.tar.gz": {"sha256": "f00d"}}}},
    "config": {"seeds": [1, 2], "subset": {"train": 100, "test": 20}, "subset_seed": 0},
}
CLAIMS = pd.DataFrame(
    [
        {
            "claim": "the 6-conv sigmoid net does not learn",
            "lecture": "does not learn",
            "agree": "2/2",
            "verdict": "confirmed",
        }
    ]
)
TIMING = {"training_jobs": 2, "training_span_minutes": 3.0, "training_job_minutes": 5.0}


def test_the_reproduction_readme_says_how_it_was_made():
    text = reproduction_readme("make reproduction", PROVENANCE, TIMING, CLAIMS)
    assert "```bash\nmake reproduction\n```" in text
    assert "- Precision: mixed_bfloat16 (auto: CPU with AMX bf16 units)\n" in text
    assert "trained on CPU: Intel(R) Xeon(R) Processor" in text
    assert "| cifar10 | `cifar-10-binary.tar.gz` | `f00d` |" in text
    assert "| the 6-conv sigmoid net does not learn | does not learn | 2/2 | confirmed |" in text
    assert "Seeds: 1, 2; subset per dataset: 100 training and 20 test images" in text


def test_only_the_results_block_of_the_readme_is_replaced():
    readme = f"# Title\n\n{START}\nold table\n{END}\n\nhand-written text\n"
    assert replace_results_block(readme, "new table") == f"# Title\n\n{START}\nnew table\n{END}\n\nhand-written text\n"
    with pytest.raises(ValueError, match="no"):
        replace_results_block("# no markers\n", "new table")
