"""G's options (config.g_filters, config.g_conditional_bn): tables pinned, the seed preset's
generator untouched, the default's conditional, the conditional BatchNorm's function, config
errors."""

import dataclasses

import keras
import numpy as np
import pytest
import tensorflow as tf

from model_pkg import config as config_lib
from model_pkg import networks
from model_pkg.conditional_bn import ConditionalBatchNorm
from model_pkg.fast_layers import FusedBatchNormalization
from tests.model_pkg.test_networks import SEED_GENERATOR

# Each BN: its moving mean and variance (2 C) plus the per-class gamma and beta (2 x 10 C).
CONDITIONAL_GENERATOR = [("dense", 348_096), ("dense_bn", 68_992), ("convt1", 36_928),
                         ("convt1_bn", 1_408), ("convt2", 577)]
FILTERS_32_GENERATOR = [("dense", 174_048), ("dense_bn", 6_272), ("convt1", 9_248),
                        ("convt1_bn", 128), ("convt2", 289)]
SEED_WEIGHT_PATHS = [f"{layer}/{name}" for layer, names in (
    ("dense", ("kernel", "bias")),
    ("dense_bn", ("gamma", "beta", "moving_mean", "moving_variance")),
    ("convt1", ("kernel", "bias")),
    ("convt1_bn", ("gamma", "beta", "moving_mean", "moving_variance")),
    ("convt2", ("kernel", "bias"))) for name in names]


def test_the_seed_preset_builds_the_seed_generator():
    generator = networks.build_generator(config_lib.SEED)
    assert networks.parameter_table(generator) == SEED_GENERATOR
    assert [w.path for w in generator.weights] == SEED_WEIGHT_PATHS
    assert not any(isinstance(layer, ConditionalBatchNorm) for layer in generator.layers)


@pytest.mark.parametrize("cfg", [dataclasses.replace(config_lib.SEED, g_conditional_bn=True),
                                 config_lib.DEFAULT], ids=["seed+g_conditional_bn", "default"])
def test_conditional_bn_generator_table_is_pinned(cfg):
    generator = networks.build_generator(cfg)
    assert networks.parameter_table(generator) == CONDITIONAL_GENERATOR
    assert generator.count_params() == 456_001
    table = generator.get_layer("dense_bn")
    assert table.gamma.shape == (10, 3136) and table.beta.shape == (10, 3136)
    assert not table.norm.center and not table.norm.scale


def test_g_filters_32_generator_table_is_pinned():
    generator = networks.build_generator(dataclasses.replace(config_lib.SEED, g_filters=32))
    assert networks.parameter_table(generator) == FILTERS_32_GENERATOR
    assert generator.count_params() == 189_985
    images = generator((np.arange(3, dtype=np.int32), np.ones((3, 100), np.float32)))
    assert images.shape == (3, 28, 28, 1)


def _conditional(kind=keras.layers.BatchNormalization, synchronized=False):
    norm = kind(center=False, scale=False, synchronized=synchronized, name="n")
    return ConditionalBatchNorm(norm, name="cbn")


@pytest.mark.parametrize("shape", [(12, 40), (12, 5, 5, 6)])
def test_conditional_bn_applies_the_labels_gamma_and_beta(shape):
    rng = np.random.default_rng(0)
    x = tf.constant(rng.standard_normal(shape).astype(np.float32) * 2 + 1)
    label = tf.constant(np.arange(shape[0]) % 10, tf.int32)
    layer = _conditional()
    fresh = layer([x, label], training=True)
    np.testing.assert_allclose(fresh, layer.norm(x, training=True), atol=1e-6)
    gamma = rng.standard_normal((10, shape[-1])).astype(np.float32)
    beta = rng.standard_normal((10, shape[-1])).astype(np.float32)
    layer.gamma.assign(gamma)
    layer.beta.assign(beta)
    out = np.asarray(layer([x, label], training=True))
    lookup = [-1] + [1] * (len(shape) - 2) + [shape[-1]]
    want = (np.asarray(fresh) * gamma[label.numpy()].reshape(lookup)
            + beta[label.numpy()].reshape(lookup))
    np.testing.assert_allclose(out, want, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("shape", [(16, 96), (16, 14, 14, 8)])
def test_conditional_bn_fuses_with_the_same_function(shape):
    rng = np.random.default_rng(1)
    x = tf.constant(rng.standard_normal(shape).astype(np.float32) * 3 + 1)
    label = tf.constant(np.arange(shape[0]) % 10, tf.int32)
    plain, fused = _conditional(), _conditional(FusedBatchNormalization)
    outs = [layer([x, label], training=True) for layer in (plain, fused)]
    assert fused.norm._fusable(x, None)
    np.testing.assert_allclose(outs[0], outs[1], rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(plain.norm.moving_variance, fused.norm.moving_variance,
                               rtol=1e-5)


def test_conditional_bn_synchronized_builds_and_trains():
    cfg = dataclasses.replace(config_lib.SEED, g_conditional_bn=True)
    generator = networks.build_generator(cfg, synchronized_bn=True)
    assert generator.get_layer("convt1_bn").norm.synchronized
    images = generator((np.arange(4, dtype=np.int32), np.ones((4, 100), np.float32)),
                       training=True)
    assert images.shape == (4, 28, 28, 1)


def test_conditional_bn_refuses_an_affine_inner_batchnorm():
    with pytest.raises(ValueError, match="center=False and scale=False"):
        ConditionalBatchNorm(keras.layers.BatchNormalization())


@pytest.mark.parametrize("field, value, rule", [
    ("g_filters", 0, "config.g_filters=0: must be an integer >= 1"),
    ("g_filters", 2.5, "config.g_filters=2.5: must be an integer >= 1"),
    ("g_filters", True, "config.g_filters=True: must be an integer >= 1"),
    ("g_conditional_bn", "yes", "config.g_conditional_bn='yes': must be true or false"),
])
def test_config_errors_name_the_field_and_rule(field, value, rule):
    with pytest.raises(ValueError) as error:
        dataclasses.replace(config_lib.SEED, **{field: value})
    assert str(error.value) == rule


def test_options_parse_from_set_flags():
    assert config_lib.parse_overrides(["g_filters=32", "g_conditional_bn=true"]) == {
        "g_filters": 32, "g_conditional_bn": True}
    with pytest.raises(ValueError, match="g_filters must be an integer"):
        config_lib.parse_overrides(["g_filters=wide"])
