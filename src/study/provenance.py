"""Where the code that produced a result came from."""

from __future__ import annotations

import os
import subprocess


def git_commit(repository: str | os.PathLike) -> str:
    """The commit the workflow ran from, marked '-dirty' when its tracked files had changes."""
    try:
        commit = subprocess.run(
            ["git", "-C", str(repository), "rev-parse", "HEAD"], capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(repository), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown (not a git checkout)"
    return commit + ("-dirty" if dirty else "")
