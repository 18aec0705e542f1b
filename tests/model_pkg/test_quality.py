"""The quality metrics' arithmetic on features with known answers."""

import numpy as np
import pytest

from model_pkg.eval import metrics as quality


@pytest.fixture(scope="module")
def gaussians():
    rng = np.random.default_rng(0)
    return rng.standard_normal((2000, 8)), rng.standard_normal((2000, 8))


def test_frechet_of_a_set_with_itself_is_zero(gaussians):
    a, _ = gaussians
    assert abs(quality.frechet_distance(a, a)) < 1e-8


def test_frechet_of_a_shifted_gaussian_is_the_squared_shift(gaussians):
    a, b = gaussians
    shift = np.zeros(8)
    shift[0] = 3.0
    assert quality.frechet_distance(a, b + shift) == pytest.approx(9.0, abs=0.5)
    assert quality.frechet_distance(a, b) < 0.1


def test_coverage_is_one_for_the_same_points_and_zero_far_away(gaussians):
    a, b = gaussians
    assert quality.coverage(a, a) == 1.0
    assert quality.coverage(a, b + 100.0) == 0.0
    assert 0.9 < quality.coverage(a, b) <= 1.0


def test_coverage_drops_when_the_fake_set_collapses(gaussians):
    a, b = gaussians
    collapsed = b[:20].repeat(100, axis=0)   # 20 modes: the low-variety failure
    assert quality.coverage(a, collapsed) < 0.3


def test_eval_inputs_are_fixed_and_balanced():
    labels, noise = quality.eval_inputs()
    again = quality.eval_inputs()[1]
    assert np.bincount(labels).tolist() == [1000] * 10 and noise.shape == (10_000, 100)
    np.testing.assert_array_equal(noise, again)


def test_the_fair_floor_draws_1000_training_digits_per_label():
    labels = np.random.default_rng(3).integers(0, 10, 60_000)
    mnist = type("Mnist", (), {"y_train": labels, "x_train": np.zeros((60_000, 1))})()
    pick = quality._balanced_draw(mnist)
    assert np.bincount(labels[pick]).tolist() == [1000] * 10
    assert len(set(pick.tolist())) == 10_000
    np.testing.assert_array_equal(pick, quality._balanced_draw(mnist))   # fixed draw
    assert np.bincount(labels[quality._random_draw(mnist)]).tolist() != [1000] * 10


def test_the_evaluators_entropy_is_log10_when_unsure_and_zero_when_sure():
    import keras

    from model_pkg.eval import classifier

    image = keras.Input((28, 28, 1))
    flat = keras.layers.Flatten()(image)
    # The first pixel scales the logits: 0 gives uniform 10-way odds, 100 one sure digit.
    logits = keras.layers.Lambda(lambda x: x[:, :1] * keras.ops.arange(10, dtype="float32"))(flat)
    model = keras.Model(image, [logits, flat])
    images = np.zeros((2, 28, 28, 1), np.float32)
    images[1, 0, 0, 0] = 100.0
    predicted, features, entropy = classifier.predict(model, images)
    assert predicted.tolist() == [0, 9] and features.shape == (2, 784)
    assert entropy[0] == pytest.approx(np.log(10), rel=1e-6) and entropy[1] < 1e-30 + 1e-6


def test_the_entropy_report_draws_screens_and_refuses_old_ones(tmp_path, capsys):
    import json

    from model_pkg.eval import report

    rows = [{"step": 5, "entropy_generated": [0.01] * 10, "entropy_real": [0.03] * 10}]
    (tmp_path / "new").mkdir()
    (tmp_path / "new" / "screen.json").write_text(json.dumps({"checkpoints": rows}))
    (tmp_path / "old").mkdir()
    (tmp_path / "old" / "screen.json").write_text(json.dumps({"checkpoints": [{"step": 5}]}))
    out = tmp_path / "chart.png"
    assert report.main([str(out), f"run={tmp_path / 'new'}"]) == 0
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    (tmp_path / "version").mkdir()
    (tmp_path / "version" / "manifest.json").write_text(json.dumps(
        {"quality": rows[0], "training": {"step": 9}}))
    assert report.newest_metrics(str(tmp_path / "version"))["step"] == 9
    assert report.main([str(out), f"a={tmp_path / 'new'}", f"b={tmp_path / 'version'}"]) == 0
    with pytest.raises(SystemExit):
        report.main([str(out), f"run={tmp_path / 'old'}"])
    assert "has no entropy" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        report.main([str(out), f"run={tmp_path}"])
    assert "neither a screen report nor a version's manifest" in capsys.readouterr().err


@pytest.mark.parametrize("text", ["[" * 100_000 + "]" * 100_000, '{"quality": NaN}'])
def test_the_entropy_report_names_a_malformed_manifest(tmp_path, text):
    from model_pkg.eval import report

    (tmp_path / "manifest.json").write_text(text)
    with pytest.raises(ValueError, match="manifest.json: neither a screen report nor"):
        report.newest_metrics(str(tmp_path))
