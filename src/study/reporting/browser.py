"""Headless Chromium, where it is installed: the report printed to PDF, and a screenshot of its first screen.

Both are extras: without Chromium the report is complete as HTML, and the callers say what they skipped.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from study.atomic import written_atomically

CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
# A browser that reaches no network and leaves nothing behind: the report is one self-contained file.
HEADLESS_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--hide-scrollbars",
]
FIRST_SCREEN = (1400, 900)


def find_chromium() -> str | None:
    """The path of the first Chromium found on PATH, or None."""
    return next((path for name in CHROMIUM_NAMES if (path := shutil.which(name))), None)


def missing_chromium(what: str) -> str:
    return f"Chromium not found on PATH (looked for {', '.join(CHROMIUM_NAMES)}): {what} skipped."


def _run_chromium(chromium: str, page: Path, out: Path, flags: list[str], workdir: Path) -> None:
    """Run Chromium on ``page`` with ``flags``; the file it writes (``out``) appears complete or not at all."""
    with written_atomically(out) as partial:  # its name ends in out's suffix: Chromium picks the format by it
        flags = [flag.replace("{out}", str(partial)) for flag in flags]
        command = [chromium, *HEADLESS_FLAGS, f"--user-data-dir={workdir / 'profile'}", *flags, page.as_uri()]
        result = subprocess.run(command, capture_output=True, text=True, timeout=300)
        if result.returncode != 0 or partial.stat().st_size == 0:
            raise RuntimeError(f"Chromium wrote no {out.name} (exit {result.returncode}): {result.stderr[-2000:]}")


def print_pdf(html: str | os.PathLike, pdf: str | os.PathLike, chromium: str) -> None:
    """Print the report to PDF with every <details> open, so the printed page carries the folded evidence."""
    with tempfile.TemporaryDirectory() as tmp:
        page = Path(tmp) / "report.html"
        page.write_text(Path(html).read_text(encoding="utf-8").replace("<details>", "<details open>"), "utf-8")
        _run_chromium(chromium, page, Path(pdf), ["--no-pdf-header-footer", "--print-to-pdf={out}"], Path(tmp))


def screenshot(html: str | os.PathLike, png: str | os.PathLike, chromium: str, size=FIRST_SCREEN) -> None:
    """What a reader sees first: the top of the page in a window of ``size`` (width, height), as PNG."""
    with tempfile.TemporaryDirectory() as tmp:
        flags = [f"--window-size={size[0]},{size[1]}", "--screenshot={out}"]
        _run_chromium(chromium, Path(html).resolve(), Path(png), flags, Path(tmp))
