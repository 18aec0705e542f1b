"""The coverage picture: the real digits it shows are the ones coverage counts as missed."""

import numpy as np
import pytest

from model_pkg.eval import metrics, missing

RNG = np.random.default_rng(5)


def test_uncovered_agrees_with_the_coverage_metric():
    real = RNG.standard_normal((600, 8))
    fake = RNG.standard_normal((500, 8)) * 0.6 + 0.4   # misses part of the real cloud
    how_far, nearest = missing.uncovered(real, fake, chunk=128)
    covered = metrics.coverage(real, fake)
    assert 0.2 < covered < 0.95
    assert np.mean(how_far < 1) == pytest.approx(covered)
    distances = ((real[:, None] - fake[None]) ** 2).sum(-1)
    np.testing.assert_array_equal(nearest, distances.argmin(1))


def test_the_farthest_real_digits_of_each_label_are_drawn_beside_their_nearest_fake():
    labels = np.repeat(np.arange(10), 30)
    real_features = RNG.standard_normal((300, 4))
    far_out = [d * 30 + 7 for d in range(10)]          # one real digit per label, far away
    real_features[far_out] += 50
    fake_features = RNG.standard_normal((200, 4))
    real_images = RNG.uniform(0, 1, (300, 28, 28, 1)).astype(np.float32)
    fake_images = RNG.uniform(0, 1, (200, 28, 28, 1)).astype(np.float32)
    found = missing.missing_styles(real_images, labels, real_features, fake_images,
                                   fake_features, per_label=3)
    assert found["pairs"].shape == (10, 3, 2, 28, 28)
    for digit, index in enumerate(far_out):
        np.testing.assert_array_equal(found["pairs"][digit, 0, 0], real_images[index, ..., 0])
        nearest = ((fake_features - real_features[index]) ** 2).sum(1).argmin()
        np.testing.assert_array_equal(found["pairs"][digit, 0, 1], fake_images[nearest, ..., 0])
        assert found["how_far"][digit, 0] > 1 and found["uncovered_share"][digit] >= 1 / 30
        shown = found["how_far"][digit][found["how_far"][digit] > 0]
        assert list(shown) == sorted(shown, reverse=True) and (shown > 1).all()


def test_missing_draws_a_workdir_and_refuses_an_empty_one(trained_workdir, tmp_path, capsys):
    out = tmp_path / "missing.png"
    assert missing.main([str(out), trained_workdir, "--per-label", "2"]) == 0
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "uncovered per label: 0:" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        missing.main([str(tmp_path / "x.png"), str(tmp_path / "nothing")])
    assert "holds no training run" in capsys.readouterr().err
