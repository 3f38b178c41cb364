"""Fetch dataset files and verify them against the checksums in the config.

A file is written under a temporary name beside its destination and renamed
only once its checksum matches, so an interrupted or corrupt download never
leaves anything that looks complete.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import socket
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

from study.atomic import stale_partials, written_atomically
from study.layout import Layout, planned_datasets

CHUNK = 1 << 20
MB = 1e6
OFFLINE_HINT = (
    "On a machine without internet access, fetch the files from a mirror instead: set `mirror:` in a config "
    "layer to a directory or URL that holds a folder per dataset with its official file names. "
    "config/offline-mirror.yaml is such a layer, and `make mirror` fills its folder (README: Real data without "
    "internet)."
)


class ChecksumError(ValueError):
    """A file's content does not match the checksum the config gives for it."""


class DownloadError(OSError):
    """A file could not be fetched; the message says from where, why, and what to do."""


def source_url(base: str, filename: str) -> str:
    """Where ``filename`` is fetched from: ``base`` is a URL or a local directory."""
    if "://" not in base:
        base = Path(base).resolve().as_uri()
    return base.rstrip("/") + "/" + urllib.parse.quote(filename)


def dataset_source(mirror: str | None, url: str, dataset: str, filename: str) -> str:
    """Where a dataset's file is fetched from: the mirror's folder for that dataset (MIRROR/<dataset>/), which
    keeps datasets whose files share names (MNIST's and Fashion-MNIST's) apart, or else the dataset's url."""
    return source_url(source_url(mirror, dataset) if mirror else url, filename)


def unreachable(url: str, timeout: float = 5.0) -> str | None:
    """Why ``url`` cannot be fetched from here, found without fetching it: a local file that is missing, or a
    server that no connection reaches; None when it looks reachable."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme == "file":
        path = Path(urllib.parse.unquote(parts.path))
        return None if path.exists() else f"{path} does not exist"
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        socket.create_connection((parts.hostname, port), timeout=timeout).close()
    except OSError as error:
        return f"{parts.hostname}:{port} cannot be reached ({error})"
    return None


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


def open_url(url: str, timeout: float):
    """``urlopen``, with failures that name the URL and, when the network is the cause, the way round it."""
    try:
        return urllib.request.urlopen(url, timeout=timeout)
    except urllib.error.HTTPError as error:
        raise DownloadError(f"{url}: the server answered {error.code} {error.reason}") from error
    except (urllib.error.URLError, OSError) as error:
        reason = getattr(error, "reason", error)
        if url.startswith("file:"):
            raise DownloadError(f"{url}: the mirror has no such file ({reason})") from error
        raise DownloadError(
            f"{url} could not be fetched: the network or the server could not be reached ({reason}). {OFFLINE_HINT}"
        ) from error


def progress_line(done: int, total: int | None, seconds: float) -> str:
    """'12.0 MB of 170.5 MB (7%), 5.2 MB/s'."""
    rate = f"{done / MB / seconds:.1f} MB/s" if seconds > 0 else "-"
    of_total = f" of {total / MB:.1f} MB ({done / total:.0%})" if total else ""
    return f"{done / MB:.1f} MB{of_total}, {rate}"


def copy_with_progress(response, out, every_seconds: float) -> int:
    """Copy a response to ``out``, printing a progress line every ``every_seconds`` and at the end."""
    length = response.headers.get("Content-Length") if getattr(response, "headers", None) else None
    total = int(length) if length else None
    done, start = 0, time.monotonic()
    last = start
    for chunk in iter(lambda: response.read(CHUNK), b""):
        out.write(chunk)
        done += len(chunk)
        now = time.monotonic()
        if now - last >= every_seconds:
            print(progress_line(done, total, now - start), flush=True)
            last = now
    print(f"fetched {progress_line(done, total, time.monotonic() - start)}", flush=True)
    return done


def fetch(
    url: str, destination: str | os.PathLike, checksum: dict, timeout: float = 60, progress_seconds: float = 10
) -> None:
    """Download ``url`` to ``destination`` atomically, verified against ``checksum``, with progress lines."""
    destination = Path(destination)
    destination.parent.mkdir(parents=True, exist_ok=True)
    for stale in stale_partials(destination):
        stale.unlink(missing_ok=True)  # left by an attempt killed mid-transfer, where no cleanup runs
    with written_atomically(destination) as partial:
        with open(partial, "wb") as out, open_url(url, timeout) as response:
            try:
                copy_with_progress(response, out, progress_seconds)
            except OSError as error:
                raise DownloadError(f"{url}: the download broke off ({error})") from error
        verify(partial, checksum, label=f"{destination.name} from {url}")


def unreachable_downloads(config: dict, layout: Layout) -> list[str]:
    """The sources of the study's downloads not yet in ``layout`` that cannot be reached from here, each with
    why; one line per server or folder."""
    problems: dict[str, str] = {}
    for dataset in planned_datasets(config):
        for filename in config["datasets"][dataset]["files"]:
            if Path(layout.download(dataset, filename)).exists():
                continue
            source = dataset_source(config["mirror"], config["datasets"][dataset]["url"], dataset, filename)
            origin = source.rsplit("/", 1)[0]
            if origin not in problems:
                problems[origin] = unreachable(source) or ""
    return [f"{origin}: {why}" for origin, why in problems.items() if why]


def sources_message(problems: list[str], layers: list[str]) -> str:
    """What to do when the datasets cannot be fetched: the mirror, and on a CPU the quick profile."""
    shown = " ".join(layers or ["config/config.yaml"])
    return "\n".join(
        [
            "The study cannot start: its datasets cannot be fetched from here.",
            *(f"  {problem}" for problem in problems),
            "Without internet, fill a local mirror and layer it on: make mirror, then",
            f'  make study ARGS="--configfile {shown} config/offline-mirror.yaml"',
            "On a CPU, the quick profile tells the lecture's story in about an hour:",
            f'  make study ARGS="--configfile {shown} config/offline-mirror.yaml config/quick.yaml"',
        ]
    )
