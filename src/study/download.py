"""Fetch dataset files and verify them against the checksums in the config.

A file is written under a temporary name beside its destination and renamed
only once its checksum matches, so an interrupted or corrupt download never
leaves anything that looks complete.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import shutil
import tempfile
import urllib.parse
import urllib.request
from pathlib import Path

CHUNK = 1 << 20


class ChecksumError(ValueError):
    """A file's content does not match the checksum the config gives for it."""


def source_url(base: str, filename: str) -> str:
    """Where ``filename`` is fetched from: ``base`` is a URL or a local directory."""
    if "://" not in base:
        base = Path(base).resolve().as_uri()
    return base.rstrip("/") + "/" + urllib.parse.quote(filename)


def file_digest(path: str | os.PathLike, algorithm: str, covers: str = "file") -> str:
    """Hex digest of a file, or of its gunzipped payload when ``covers`` is 'payload'."""
    digest = hashlib.new(algorithm)
    opener = gzip.open if covers == "payload" else open
    try:
        with opener(path, "rb") as stream:
            for chunk in iter(lambda: stream.read(CHUNK), b""):
                digest.update(chunk)
    except (OSError, EOFError) as error:  # gzip raises these on bad or truncated data
        raise ChecksumError(f"{path}: cannot read its {covers} ({error})") from error
    return digest.hexdigest()


def verify(path: str | os.PathLike, checksum: dict, label: str | None = None) -> str:
    """Raise ChecksumError unless the file matches ``checksum``; return the digest."""
    got = file_digest(path, checksum["algorithm"], checksum["covers"])
    if got != checksum["value"].lower():
        raise ChecksumError(
            f"{label or path}: {checksum['algorithm']} of its {checksum['covers']} is "
            f"{got}, the config expects {checksum['value']}"
        )
    return got


def fetch(url: str, destination: str | os.PathLike, checksum: dict, timeout: float = 60) -> None:
    """Download ``url`` to ``destination`` atomically, verified against ``checksum``."""
    destination = Path(destination)
    destination.parent.mkdir(parents=True, exist_ok=True)
    handle, partial = tempfile.mkstemp(prefix=f".{destination.name}.", suffix=".part", dir=destination.parent)
    try:
        with os.fdopen(handle, "wb") as out, urllib.request.urlopen(url, timeout=timeout) as response:
            shutil.copyfileobj(response, out, CHUNK)
        verify(partial, checksum, label=f"{destination.name} from {url}")
        os.replace(partial, destination)
    finally:
        if os.path.exists(partial):
            os.remove(partial)
