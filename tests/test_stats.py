import json

import numpy as np
import pytest

from study.data.stats import CHUNK_IMAGES, channel_stats, write_channel_stats


def test_channel_stats_match_numpy_population_std():
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, size=(CHUNK_IMAGES + 7, 4, 4, 3), dtype=np.uint8)
    stats = channel_stats(images)
    as_float = images.astype(np.float64).reshape(-1, 3)
    np.testing.assert_allclose(stats["mean"], as_float.mean(axis=0), rtol=1e-12)
    np.testing.assert_allclose(stats["std"], as_float.std(axis=0, ddof=0), rtol=1e-10)


def test_channel_stats_known_values(tmp_path):
    images = np.zeros((2, 1, 2, 2), dtype=np.uint8)
    images[0, 0, :, 0] = [0, 255]
    images[1, 0, :, 0] = [0, 255]
    images[..., 1] = 7
    stats = write_channel_stats(images, tmp_path / "s.json", "toy")
    assert stats["mean"] == [127.5, 7.0]
    assert stats["std"] == pytest.approx([127.5, 0.0])
    assert json.loads((tmp_path / "s.json").read_text())["dataset"] == "toy"
