import gzip
import io
import re
import tarfile

import numpy as np
import pytest
from fakedata import cifar_records as fake_cifar_records
from fakedata import idx_bytes, tar_gz, write_cifar10, write_cifar100, write_fashion_mnist

from study.data.formats import (
    ARRAYS,
    CIFAR10,
    CIFAR100,
    FORMATS,
    DatasetFormatError,
    cifar_records,
    read_cifar_archive,
    read_idx,
)
from study.data.prepare import load_split, load_subset, prepare, stratified_subset

CIFAR_ARCHIVE, CIFAR_MEMBERS = CIFAR10.archive, CIFAR10.members


def write_gz(path, payload):
    path.write_bytes(gzip.compress(payload))
    return path


def test_idx_round_trip(tmp_path):
    images = np.arange(3 * 28 * 28, dtype=np.uint32).reshape(3, 28, 28).astype(np.uint8)
    path = write_gz(tmp_path / "x.gz", idx_bytes(images))
    np.testing.assert_array_equal(read_idx(path, 3), images)


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        (
            b"\x00\x00\x08\x03"
            + (3).to_bytes(4, "big")
            + (2).to_bytes(4, "big")
            + (2).to_bytes(4, "big")
            + b"\x00" * 5,
            "declares shape (3, 2, 2)",
        ),
        (b"\x08\x03\x00\x00" + b"\x00" * 20, "bad IDX magic"),
        (b"\x00\x00\x0d\x03" + b"\x00" * 20, "data type 0x0d"),
        (b"\x00\x00\x08\x01" + (2).to_bytes(4, "big") + b"\x01\x02", "1 dimensions, expected 3"),
        (b"\x00\x00\x08\x03\x00\x00", "truncated IDX header"),
    ],
    ids=["truncated-data", "wrong-magic", "wrong-type", "wrong-dims", "truncated-header"],
)
def test_idx_errors_name_file_and_problem(tmp_path, payload, message):
    path = write_gz(tmp_path / "train-images-idx3-ubyte.gz", payload)
    with pytest.raises(DatasetFormatError, match=re.escape(message)) as error:
        read_idx(path, 3)
    assert "train-images-idx3-ubyte.gz" in str(error.value)


def test_idx_not_gzip(tmp_path):
    path = tmp_path / "t10k-labels-idx1-ubyte.gz"
    path.write_bytes(b"not gzip at all")
    with pytest.raises(DatasetFormatError, match="t10k-labels-idx1-ubyte.gz: not a readable gzip"):
        read_idx(path, 1)


def test_labels_that_skip_classes_fail_prepare(tmp_path):
    write_fashion_mnist(tmp_path / "dl", n_train=20, n_val=10)
    write_gz(tmp_path / "dl" / "train-labels-idx1-ubyte.gz", idx_bytes(np.full(20, 12, dtype=np.uint8)))
    with pytest.raises(DatasetFormatError, match=r"labels run to 12, but classes \[0, 1, .*, 11\] have no training"):
        prepare("idx", tmp_path / "dl", tmp_path / "out")
    assert not (tmp_path / "out" / "meta.json").exists()
    assert not list((tmp_path / "out").glob("*.npy"))


def test_the_class_count_comes_from_the_labels(tmp_path):
    write_fashion_mnist(tmp_path / "dl", n_train=200, n_val=10)
    write_gz(tmp_path / "dl" / "train-labels-idx1-ubyte.gz", idx_bytes((np.arange(200) % 100).astype(np.uint8)))
    meta = prepare("idx", tmp_path / "dl", tmp_path / "out")
    assert meta["classes"] == 100 and meta["train"]["class_counts"] == [2] * 100
    assert len(meta["val"]["class_counts"]) == 100


def test_cifar_records_are_channel_major():
    images = np.random.default_rng(0).integers(0, 256, size=(4, 32, 32, 3), dtype=np.uint8)
    labels = np.array([0, 3, 9, 1], dtype=np.uint8)
    raw = np.frombuffer(fake_cifar_records(images, labels), dtype=np.uint8)
    got_images, got_labels = cifar_records(raw, "b.bin")
    np.testing.assert_array_equal(got_images, images)
    np.testing.assert_array_equal(got_labels, labels)


def test_cifar_truncated_record():
    raw = np.frombuffer(b"\x01" * 3073 * 2 + b"\x00" * 10, dtype=np.uint8)
    with pytest.raises(DatasetFormatError, match="b.bin: 6156 bytes is not a whole number of 3073-byte records"):
        cifar_records(raw, "b.bin")


def test_cifar_archive_missing_member(tmp_path):
    (tmp_path / CIFAR_ARCHIVE).write_bytes(tar_gz({"cifar-10-batches-bin/data_batch_1.bin": b"\x00" * 3073}))
    with pytest.raises(DatasetFormatError, match="data_batch_2.bin is missing"):
        read_cifar_archive(tmp_path / CIFAR_ARCHIVE)


@pytest.mark.parametrize(
    ("kind", "problem"),
    [
        ("parent-path", "unsafe member path '../evil.bin'"),
        ("absolute-link", "member cifar-10-batches-bin/data_batch_1.bin is not a regular file or directory"),
        ("device", "member cifar-10-batches-bin/dev is not a regular file or directory"),
    ],
)
def test_cifar_archive_refuses_unsafe_members(tmp_path, kind, problem):
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w:gz") as tar:
        if kind == "parent-path":
            info = tarfile.TarInfo("../evil.bin")
            info.size = 3
            tar.addfile(info, io.BytesIO(b"bad"))
        elif kind == "absolute-link":
            info = tarfile.TarInfo("cifar-10-batches-bin/data_batch_1.bin")
            info.type, info.linkname = tarfile.SYMTYPE, "/etc/passwd"
            tar.addfile(info)
        else:
            info = tarfile.TarInfo("cifar-10-batches-bin/dev")
            info.type = tarfile.CHRTYPE
            tar.addfile(info)
    (tmp_path / CIFAR_ARCHIVE).write_bytes(raw.getvalue())
    with pytest.raises(DatasetFormatError, match=re.escape(problem)):
        read_cifar_archive(tmp_path / CIFAR_ARCHIVE)
    assert not (tmp_path.parent / "evil.bin").exists()


def test_cifar_archive_member_sizes_must_be_whole_records(tmp_path):
    members = {name: b"\x00" * 3073 for names in CIFAR_MEMBERS.values() for name in names}
    members["cifar-10-batches-bin/test_batch.bin"] = b"\x00" * 3000
    (tmp_path / CIFAR_ARCHIVE).write_bytes(tar_gz(members))
    with pytest.raises(DatasetFormatError, match="test_batch.bin declares 3000 bytes, not a whole number"):
        read_cifar_archive(tmp_path / CIFAR_ARCHIVE)


def test_a_gzip_trailer_that_does_not_match_is_caught_even_past_the_tar_end(tmp_path):
    # The CRC-32 sits in the last 8 bytes, after everything tarfile reads: flip one of its bits.
    write_cifar10(tmp_path, n_train=10, n_val=5)
    archive = tmp_path / CIFAR_ARCHIVE
    data = bytearray(archive.read_bytes())
    data[-8] ^= 0x01
    archive.write_bytes(bytes(data))
    with pytest.raises(DatasetFormatError, match="not a whole gzip stream.*CRC"):
        read_cifar_archive(archive)


def test_prepare_cifar_writes_memory_mappable_uint8(tmp_path):
    write_cifar10(tmp_path / "dl", n_train=50, n_val=20)
    meta = prepare("cifar10_binary", tmp_path / "dl", tmp_path / "out")
    images, labels = load_split(tmp_path / "out", "train")
    assert isinstance(images, np.memmap)
    assert images.dtype == np.uint8 and images.shape == (50, 32, 32, 3)
    assert labels.tolist() == (np.arange(50) % 10).tolist()
    assert meta["val"]["images"] == 20
    assert set(meta["sources"]) == {CIFAR_ARCHIVE}


def test_stratified_subset_keeps_class_shares_even_when_sorted_by_class():
    labels = np.repeat(np.arange(10), [100, 100, 100, 100, 100, 100, 100, 100, 100, 300])
    keep = stratified_subset(labels, 120, seed=0)
    counts = np.bincount(labels[keep], minlength=10)
    assert len(keep) == 120 and len(set(keep)) == 120
    assert counts.tolist() == [10] * 9 + [30]
    np.testing.assert_array_equal(keep, stratified_subset(labels, 120, seed=0))
    assert not np.array_equal(keep, stratified_subset(labels, 120, seed=1))


def test_load_subset_is_a_stratified_draw_of_the_prepared_split(tmp_path):
    write_fashion_mnist(tmp_path / "dl", n_train=100, n_val=50)
    meta = prepare("idx", tmp_path / "dl", tmp_path / "out")
    assert meta["train"] == {"images": 100, "shape": [28, 28, 1], "class_counts": [10] * 10}
    images, labels = load_subset(tmp_path / "out", "train", 30, seed=0)
    assert images.shape == (30, 28, 28, 1)
    assert np.bincount(labels, minlength=10).tolist() == [3] * 10
    full_images, full_labels = load_subset(tmp_path / "out", "train", None, seed=0)
    assert len(full_labels) == 100


def test_a_prepared_array_changed_after_preparing_is_refused(tmp_path):
    write_cifar10(tmp_path / "dl", n_train=50, n_val=20)
    meta = prepare("cifar10_binary", tmp_path / "dl", tmp_path / "out")
    assert set(meta["arrays"]) == {f"{name}.npy" for name in ARRAYS}
    load_split(tmp_path / "out", "train")  # intact: loads
    images = tmp_path / "out" / "train_images.npy"
    data = bytearray(images.read_bytes())
    data[-1] ^= 0xFF  # one pixel of the last image
    images.write_bytes(bytes(data))
    with pytest.raises(DatasetFormatError, match=r"train_images\.npy: its sha256 is .* meta\.json recorded"):
        load_split(tmp_path / "out", "train")
    load_split(tmp_path / "out", "val")  # the other split is untouched


def test_cifar100_reads_the_fine_label_of_each_record(tmp_path):
    write_cifar100(tmp_path / "dl", n_train=300, n_val=100)
    meta = prepare("cifar100_binary", tmp_path / "dl", tmp_path / "out")
    images, labels = load_split(tmp_path / "out", "train")
    assert images.shape == (300, 32, 32, 3) and labels.tolist() == (np.arange(300) % 100).tolist()
    assert meta["classes"] == 100 and set(meta["sources"]) == {CIFAR100.archive}
    raw = np.frombuffer(b"\x00" * 3074 + b"\x00" * 3073, dtype=np.uint8)
    with pytest.raises(DatasetFormatError, match="not a whole number of 3074-byte records"):
        cifar_records(raw, "train.bin", CIFAR100)


def test_a_format_is_registered_once_with_its_files_reader_and_official_shape():
    assert FORMATS["cifar100_binary"].files == ("cifar-100-binary.tar.gz",)
    assert (FORMATS["cifar100_binary"].shape, FORMATS["cifar100_binary"].classes) == ((32, 32, 3), 100)
    assert len(FORMATS["idx"].files) == 4 and FORMATS["cifar10_binary"].train_images == 50000
