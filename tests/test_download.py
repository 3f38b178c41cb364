import gzip
import hashlib
import socket
import subprocess

import pytest
from conftest import workflow_command
from fakedata import serve

from study.data.download import ChecksumError, DownloadError, fetch, file_digest, source_url


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


def test_a_partial_file_left_by_a_killed_download_is_cleared_by_the_next_one(tmp_path):
    (tmp_path / "srv").mkdir()
    (tmp_path / "srv" / "f.bin").write_bytes(b"payload")
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / ".f.bin.abc123.partial.bin").write_bytes(b"pay")  # SIGKILL mid-transfer: no cleanup ran
    (tmp_path / "out" / ".g.bin.abc123.partial.bin").write_bytes(b"another file's")
    with serve(tmp_path / "srv") as url:
        fetch(f"{url}/f.bin", tmp_path / "out" / "f.bin", checksum(b"payload", "md5"))
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [".g.bin.abc123.partial.bin", "f.bin"]


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


def test_a_mirror_keeps_a_folder_per_dataset_so_files_of_the_same_name_stay_apart(tmp_path):
    from study.data.download import dataset_source

    official = "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com"
    name = "train-images-idx3-ubyte.gz"  # MNIST's and Fashion-MNIST's files share their names
    assert dataset_source(None, official, "fashion_mnist", name) == f"{official}/{name}"
    assert dataset_source("http://127.0.0.1:8000", official, "mnist", name) == f"http://127.0.0.1:8000/mnist/{name}"
    local = dataset_source(str(tmp_path / "mirror"), official, "fashion_mnist", name)
    assert local == (tmp_path / "mirror" / "fashion_mnist" / name).as_uri()


def test_fetch_from_directory_mirror(tmp_path):
    (tmp_path / "mirror").mkdir()
    (tmp_path / "mirror" / "f.bin").write_bytes(b"local")
    fetch(source_url(str(tmp_path / "mirror"), "f.bin"), tmp_path / "f.bin", checksum(b"local"))
    assert (tmp_path / "f.bin").read_bytes() == b"local"


def test_a_large_download_reports_its_progress(tmp_path, capsys):
    data = bytes(range(256)) * (3 * 4096 + 100)  # a little over 3 MB: four chunks
    (tmp_path / "srv").mkdir()
    (tmp_path / "srv" / "big.bin").write_bytes(data)
    with serve(tmp_path / "srv") as url:
        fetch(f"{url}/big.bin", tmp_path / "big.bin", checksum(data), progress_seconds=0)
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 5, lines
    assert lines[0].startswith("1.0 MB of 3.2 MB (33%), ") and lines[0].endswith(" MB/s")
    assert lines[-1].startswith("fetched 3.2 MB of 3.2 MB (100%), ")


def test_an_unreachable_server_names_the_url_and_the_way_round_it(tmp_path):
    with socket.socket() as probe:  # a port on loopback that nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = f"http://127.0.0.1:{port}/cifar-10-binary.tar.gz"
    with pytest.raises(DownloadError) as failure:
        fetch(url, tmp_path / "out" / "f.gz", checksum(b""), timeout=5)
    message = str(failure.value)
    assert message.startswith(f"{url} could not be fetched: the network or the server could not be reached")
    assert "`mirror:`" in message and "make mirror" in message
    assert list((tmp_path / "out").iterdir()) == []


def test_a_file_missing_from_a_directory_mirror_says_so(tmp_path):
    with pytest.raises(DownloadError, match="the mirror has no such file"):
        fetch(source_url(str(tmp_path), "absent.gz"), tmp_path / "out" / "absent.gz", checksum(b""))


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_an_offline_first_run_stops_before_any_job_in_one_message_naming_the_mirror_and_the_quick_profile(
    tmp_path,
):
    (tmp_path / "offline.yaml").write_text(f"mirror: http://127.0.0.1:{closed_port()}\n")
    result = subprocess.run(
        workflow_command(tmp_path, tmp_path / "offline.yaml", "--cores", "1"), capture_output=True, text=True
    )
    output = result.stdout + result.stderr
    assert result.returncode != 0
    message = output[output.index("The study cannot start: its datasets cannot be fetched from here.") :]
    assert "cannot be reached" in message and "make mirror" in message and "config/quick.yaml" in message
    assert "Traceback" not in output and len(message.splitlines()) <= 8
    assert not (tmp_path / "results").exists(), "no job ran: nothing written, no protocol fixed"


def test_a_download_whose_server_went_away_explains_itself_in_its_log(tmp_path):
    port = closed_port()
    (tmp_path / "offline.yaml").write_text(f"mirror: http://127.0.0.1:{port}\n")
    target = "results/downloads/fashion_mnist/train-labels-idx1-ubyte.gz"
    # --no-hooks skips the check before the first job, as if the server had gone away after it
    command = workflow_command(tmp_path, tmp_path / "offline.yaml", "--cores", "1", "--no-hooks", target)
    result = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert result.returncode != 0
    log = (tmp_path / "results/logs/download/fashion_mnist/train-labels-idx1-ubyte.gz.log").read_text()
    url = f"http://127.0.0.1:{port}/fashion_mnist/train-labels-idx1-ubyte.gz"  # the dataset's own folder
    lines = log.splitlines()
    assert lines[0] == f"fetching {url}"
    assert lines[1].startswith(f"failed: {url} could not be fetched: the network or the server could not be reached")
    assert "make mirror" in lines[1] and lines[2].startswith("Traceback")
    assert not (tmp_path / target).exists()
