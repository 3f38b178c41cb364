import gzip
import hashlib

import pytest
from fakedata import serve

from study.download import ChecksumError, fetch, file_digest, source_url


def checksum(data, algorithm="sha256", covers="file"):
    return {"algorithm": algorithm, "covers": covers, "value": hashlib.new(algorithm, data).hexdigest()}


def test_source_url_keeps_file_names(tmp_path):
    assert source_url("https://example.org/data/", "a b.gz") == "https://example.org/data/a%20b.gz"
    assert source_url(str(tmp_path), "x.gz") == tmp_path.as_uri() + "/x.gz"


def test_fetch_over_http_verifies_and_writes(tmp_path):
    (tmp_path / "srv").mkdir()
    (tmp_path / "srv" / "f.bin").write_bytes(b"payload")
    with serve(tmp_path / "srv") as url:
        fetch(f"{url}/f.bin", tmp_path / "out" / "f.bin", checksum(b"payload", "md5"))
    assert (tmp_path / "out" / "f.bin").read_bytes() == b"payload"


def test_fetch_wrong_checksum_leaves_nothing(tmp_path):
    (tmp_path / "srv").mkdir()
    (tmp_path / "srv" / "f.bin").write_bytes(b"tampered")
    with serve(tmp_path / "srv") as url, pytest.raises(ChecksumError, match="f.bin from .*: md5 of its file is"):
        fetch(f"{url}/f.bin", tmp_path / "out" / "f.bin", checksum(b"payload", "md5"))
    assert list((tmp_path / "out").iterdir()) == []


def test_fetch_http_error_leaves_nothing(tmp_path):
    (tmp_path / "srv").mkdir()
    with serve(tmp_path / "srv") as url, pytest.raises(OSError, match="404"):
        fetch(f"{url}/missing.gz", tmp_path / "out" / "missing.gz", checksum(b""))
    assert list((tmp_path / "out").iterdir()) == []


def test_payload_checksum_ignores_recompression(tmp_path):
    payload = b"same payload " * 100
    (tmp_path / "a.gz").write_bytes(gzip.compress(payload, compresslevel=1, mtime=0))
    (tmp_path / "b.gz").write_bytes(gzip.compress(payload, compresslevel=9, mtime=5))
    assert (tmp_path / "a.gz").read_bytes() != (tmp_path / "b.gz").read_bytes()
    expected = hashlib.sha256(payload).hexdigest()
    assert file_digest(tmp_path / "a.gz", "sha256", "payload") == expected
    assert file_digest(tmp_path / "b.gz", "sha256", "payload") == expected


def test_truncated_gzip_payload_is_a_checksum_error(tmp_path):
    data = gzip.compress(b"x" * 10000)
    (tmp_path / "srv").mkdir()
    (tmp_path / "srv" / "t.gz").write_bytes(data[: len(data) // 2])
    with serve(tmp_path / "srv") as url, pytest.raises(ChecksumError, match="cannot read its payload"):
        fetch(f"{url}/t.gz", tmp_path / "out" / "t.gz", checksum(b"x" * 10000, covers="payload"))
    assert list((tmp_path / "out").iterdir()) == []


def test_fetch_from_directory_mirror(tmp_path):
    (tmp_path / "mirror").mkdir()
    (tmp_path / "mirror" / "f.bin").write_bytes(b"local")
    fetch(source_url(str(tmp_path / "mirror"), "f.bin"), tmp_path / "f.bin", checksum(b"local"))
    assert (tmp_path / "f.bin").read_bytes() == b"local"
