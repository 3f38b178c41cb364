"""Run the report notebook with papermill and export it as one self-contained HTML file."""

from __future__ import annotations

import os
from pathlib import Path

import nbformat
from nbconvert import HTMLExporter

TEMPLATES = Path(__file__).parent / "templates"


def export_html(notebook: str | os.PathLike, html: str | os.PathLike) -> None:
    """Write the executed notebook as self-contained HTML: no code, images embedded, nothing fetched."""
    exporter = HTMLExporter(
        template_name="offline",
        extra_template_basedirs=[str(TEMPLATES)],
        exclude_input=True,
        exclude_input_prompt=True,
        exclude_output_prompt=True,
        embed_images=True,
    )
    body, _ = exporter.from_notebook_node(nbformat.read(notebook, as_version=4))
    Path(html).write_text(body, encoding="utf-8")


def render_report(
    notebook: str | os.PathLike,
    executed: str | os.PathLike,
    html: str | os.PathLike,
    tables: dict[str, str | os.PathLike],
    config: dict,
    stats_jsons: list[str | os.PathLike],
    figures_dir: str | os.PathLike,
    log_output: bool = False,
) -> None:
    """Run the report ``notebook`` with papermill on ``tables`` (a path per name of study.layout.TABLES) and
    the study's ``config``, saving it as ``executed`` (figures to ``figures_dir``), and export it as ``html``."""
    import papermill

    def resolved(path) -> str:
        return str(Path(path).resolve())

    parameters = {
        "tables": {name: resolved(path) for name, path in tables.items()},
        "config": config,
        "stats_jsons": [resolved(path) for path in stats_jsons],
        "figures_dir": resolved(figures_dir),
    }
    papermill.execute_notebook(
        str(notebook),
        str(executed),
        parameters=parameters,
        kernel_name="python3",
        cwd=str(Path(executed).parent.resolve()),
        log_output=log_output,
    )
    export_html(executed, html)
