"""Training options beyond the seed: each one changes training, resumes exactly, exports."""

import dataclasses

import numpy as np
import pytest
import tensorflow as tf

from model_pkg import config as config_lib, gan
from model_pkg.config import parse_overrides
from tests.model_pkg.test_train import _assert_same_state, _run, _state


@pytest.mark.parametrize("option", [{"feature_matching": 10.0}, {"mode_seeking": 1.0},
                                    {"label_smoothing": 0.1}, {"minibatch_stddev": True},
                                    {"compute_dtype": "bfloat16"},
                                    {"d_normalization": "none"},
                                    {"d_normalization": "spectral"}])
def test_option_changes_training_and_resumes_bit_exactly(tiny_config, tmp_path, option):
    changed = dataclasses.replace(tiny_config, **option)
    _run(tiny_config, tmp_path / "seed")
    _run(changed, tmp_path / "straight")
    _run(dataclasses.replace(changed, steps=2), tmp_path / "resumed")
    _run(changed, tmp_path / "resumed")
    seed, straight = _state(tmp_path / "seed", 4), _state(tmp_path / "straight", 4)
    _assert_same_state(straight, _state(tmp_path / "resumed", 4))
    key = "generator/dense/kernel"
    assert not np.array_equal(seed[key], straight[key]), f"{option} changed nothing"


def test_minibatch_stddev_adds_one_channel_and_sees_collapse():
    from model_pkg import networks

    disc = networks.build_discriminator(dataclasses.replace(config_lib.SEED,
                                                            minibatch_stddev=True))
    assert disc.count_params() == 441_547 + 7 * 7 * 128   # one more 7x7 channel into the dense
    layer = networks.MinibatchStddev()
    varied = np.random.default_rng(0).standard_normal((8, 7, 7, 3)).astype(np.float32)
    same = np.repeat(varied[:1], 8, axis=0)
    assert layer(varied).shape == (8, 7, 7, 4)
    assert float(layer(same)[0, 0, 0, 3]) < 1e-3 < float(layer(varied)[0, 0, 0, 3])


def test_bfloat16_run_exports_a_float32_graph_that_matches_onnx(tiny_config, tmp_path):
    from export.exporter import export_from_workdir
    from export.manifest import verify_version

    _run(dataclasses.replace(tiny_config, compute_dtype="bfloat16"), tmp_path / "run")
    version = export_from_workdir(str(tmp_path / "run"), str(tmp_path / "models"),
                                  log=lambda *_: None, quality=False)
    parity = verify_version(version)["parity"]["max_abs_diff"]
    assert max(parity.values()) <= 1e-5   # export rebuilt G in float32: all runtimes agree


def test_feature_matching_term():
    real = tf.constant([[1.0, 0.0], [3.0, 0.0], [5.0, 5.0]])
    fake = tf.constant([[2.0, 0.0], [9.0, 9.0]])
    # digit 0: real mean (2, 0) vs fake (2, 0) -> 0; digit 1: (5, 5) vs (9, 9) -> 16;
    # digit 2 has no fake sample and is left out.
    value = gan._feature_matching(real, tf.constant([0, 0, 1]), fake, tf.constant([0, 1]))
    assert float(value) == pytest.approx(8.0)   # mean over the two shared digits: (0 + 16) / 2


def test_one_sided_label_smoothing_target():
    model = gan.ConditionalGAN(dataclasses.replace(config_lib.SEED, label_smoothing=0.25))
    logits = tf.constant(np.random.default_rng(0).standard_normal((3, 11)), tf.float32)
    labels = tf.constant([0, 4, 9])
    log_p = tf.nn.log_softmax(logits).numpy()
    expected = -np.mean(0.75 * log_p[[0, 1, 2], [0, 4, 9]] + 0.25 * log_p[:, 10])
    assert float(model._real_loss(labels, logits)) == pytest.approx(expected, rel=1e-6)


def test_spectral_discriminator_has_unit_spectral_norms_and_no_batchnorm():
    from model_pkg import networks

    cfg = dataclasses.replace(config_lib.SEED, d_normalization="spectral")
    disc = networks.build_discriminator(cfg)
    assert not [layer.name for layer in disc.layers if "bn" in layer.name]
    # The seed's 441,547 less its 3 BatchNorms (256 + 256 + 512), plus one u vector per kernel.
    assert disc.count_params() == 441_547 - 1_024 + 64 + 64 + 128 + 11
    image = tf.constant(np.random.default_rng(0).uniform(-1, 1, (4, 28, 28, 1)), tf.float32)
    layer = disc.get_layer("dense")
    before = layer.sn_u.numpy()
    disc(image, training=False)
    np.testing.assert_array_equal(layer.sn_u.numpy(), before)   # inference leaves u alone
    disc(image, training=True)
    assert not np.array_equal(layer.sn_u.numpy(), before)       # training refines it
    for layer in disc.layers:
        if isinstance(layer, networks._SpectralNorm):
            for _ in range(500):   # power iteration: u converges to the top singular vector
                kernel = np.asarray(layer.normalized_kernel(True))
            top = np.linalg.svd(kernel.reshape(-1, kernel.shape[-1]), compute_uv=False)[0]
            assert top == pytest.approx(1.0, abs=0.01), layer.name


def test_mode_seeking_term_grows_when_images_collapse():
    noise = tf.constant(np.random.default_rng(0).standard_normal((4, 100)), tf.float32)
    varied = tf.constant(np.random.default_rng(1).uniform(-1, 1, (4, 28, 28, 1)), tf.float32)
    collapsed = tf.concat([varied[:2], varied[:2] + 0.01], 0)
    assert float(gan._mode_seeking(collapsed, noise, 2)) > 10 * float(
        gan._mode_seeking(varied, noise, 2))


def test_cli_overrides_are_typed_and_checked():
    assert parse_overrides(["feature_matching=2.5", "steps=7", "compute_dtype=bfloat16",
                            "minibatch_stddev=true"]) == {
        "feature_matching": 2.5, "steps": 7, "compute_dtype": "bfloat16", "minibatch_stddev": True}
    with pytest.raises(ValueError, match="minibatch_stddev must be true or false"):
        parse_overrides(["minibatch_stddev=maybe"])
    with pytest.raises(ValueError, match="'nope=1': expected KEY=VALUE with KEY one of"):
        parse_overrides(["nope=1"])
    with pytest.raises(ValueError, match="steps must be an integer"):
        parse_overrides(["steps=1.5"])
    with pytest.raises(ValueError, match="d_normalization='layer': must be one of"):
        dataclasses.replace(config_lib.SEED, **parse_overrides(["d_normalization=layer"]))
    with pytest.raises(ValueError, match="compute_dtype"):
        dataclasses.replace(config_lib.SEED, compute_dtype="float16")
