"""Writing a file so that it appears complete or not at all: the one way every file the study writes whole is
written (downloads, checkpoints' tables, the protocol, Chromium's PDF and screenshot)."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

PARTIAL = ".partial"


@contextmanager
def written_atomically(path: str | os.PathLike) -> Iterator[Path]:
    """A fresh partial file beside ``path`` to write, renamed onto ``path`` when the block ends and removed when
    it raises, so a failed write (a full disk, a bad checksum) leaves neither it nor a half-written ``path``.
    Its name is hidden and keeps ``path``'s suffix last, for writers that pick the format by suffix."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=f"{PARTIAL}{path.suffix}", dir=path.parent)
    os.close(handle)
    partial = Path(name)
    try:
        yield partial
        os.replace(partial, path)
    finally:
        partial.unlink(missing_ok=True)


def stale_partials(path: str | os.PathLike) -> list[Path]:
    """The partial files of ``path`` left by a writer killed mid-write, where no cleanup could run."""
    path = Path(path)
    return sorted(path.parent.glob(f".{path.name}.*{PARTIAL}{path.suffix}"))
