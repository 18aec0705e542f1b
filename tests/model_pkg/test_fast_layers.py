"""The training-speed layers compute the Keras layers' function (model_pkg/fast_layers.py)."""

import dataclasses

import keras
import numpy as np
import pytest
import tensorflow as tf

from model_pkg import config as config_lib
from model_pkg import networks
from model_pkg.fast_layers import FusedBatchNormalization, UpsampledConv2DTranspose

# Worst element error relative to the largest magnitude: float32 sums in another order,
# and bfloat16 (8 bits of mantissa) rounded at other places than Keras rounds it.
TOLERANCE = {"float32": 2e-5, "mixed_bfloat16": 2e-2}


def _rel(keras_value, fast_value):
    a, b = (np.asarray(tf.cast(v, tf.float32)) for v in (keras_value, fast_value))
    return float(np.max(np.abs(a - b)) / max(np.max(np.abs(a)), 1e-12))


def _run(layer_fn, layer, x, weight):
    """Output, d(sum(out * weight))/d(input) and /d(each trainable variable)."""
    with tf.GradientTape() as tape:
        tape.watch(x)
        out = layer_fn(x)
        loss = tf.reduce_sum(tf.cast(out, tf.float32) * weight)
    return [out, *tape.gradient(loss, [x, *layer.trainable_variables])]


@pytest.mark.parametrize("policy", sorted(TOLERANCE))
@pytest.mark.parametrize("shape", [(16, 14, 14, 8), (16, 96)])
def test_fused_batchnorm_is_keras_batchnorm_in_training(policy, shape):
    rng = np.random.default_rng(0)
    x = tf.constant(rng.standard_normal(shape).astype(np.float32) * 3 + 1)
    weight = tf.constant(rng.standard_normal(shape).astype(np.float32))
    runs = []
    for kind in (keras.layers.BatchNormalization, FusedBatchNormalization):
        layer = kind(momentum=0.9, epsilon=1e-3, dtype=policy, name="bn")
        layer.build(shape)
        layer.gamma.assign(np.linspace(0.5, 2.0, shape[-1]))
        layer.beta.assign(np.linspace(-1.0, 1.0, shape[-1]))
        got = _run(lambda t, layer=layer: layer(t, training=True), layer, x, weight)
        runs.append((layer, got + [layer.moving_mean, layer.moving_variance]))
    (plain, expected), (fused, got) = runs
    assert got[0].dtype == expected[0].dtype
    for want, have in zip(expected, got):   # y, dx, dgamma, dbeta, moving mean and variance
        assert _rel(want, have) < TOLERANCE[policy]
    # Keras 3 averages the biased batch variance (the op's own output is unbiased).
    assert _rel(plain.moving_variance, fused.moving_variance) < 1e-5
    assert [v.path for v in plain.weights] == [v.path for v in fused.weights]
    fused.set_weights(plain.get_weights())   # inference is Keras' own code, to the bit
    assert np.array_equal(plain(x, training=False), fused(x, training=False))


@pytest.mark.parametrize("policy", sorted(TOLERANCE))
@pytest.mark.parametrize("filters", [8, 1])
def test_phase_convolution_is_upsampling_then_conv_transpose(policy, filters):
    rng = np.random.default_rng(1)
    x = tf.constant(rng.standard_normal((4, 7, 7, 16)).astype(np.float32))
    weight = tf.constant(rng.standard_normal((4, 14, 14, filters)).astype(np.float32))
    kernel = rng.standard_normal((3, 3, filters, 16)) * 0.1
    bias = rng.standard_normal(filters)
    runs = {}
    for name, dtype in (("truth", "float32"), ("keras", policy), ("phased", policy)):
        if name == "phased":
            layer = UpsampledConv2DTranspose(filters, 3, dtype=dtype)
            call = layer
        else:
            up = keras.layers.UpSampling2D(2, dtype=dtype)
            layer = keras.layers.Conv2DTranspose(filters, 3, padding="same", dtype=dtype)
            call = (lambda up, layer: lambda t: layer(up(t)))(up, layer)
        call(x)
        layer.set_weights([kernel, bias])
        runs[name] = _run(call, layer, x, weight)
    assert runs["phased"][0].shape == runs["keras"][0].shape == (4, 14, 14, filters)
    # Each of y, dx, dkernel and dbias against the float32 value: no further from it than
    # twice Keras' own form in the same policy, plus the policy's tolerance. In float32
    # Keras' form is the truth, so that is the tolerance alone. In bfloat16 how far Keras'
    # form lands depends on the CPU (native bf16 dot products or emulated ones round the
    # long gradient sums at other places), so the bound follows it.
    for i, what in enumerate(("y", "dx", "dkernel", "dbias")):
        truth, keras_value, phased = (runs[k][i] for k in ("truth", "keras", "phased"))
        assert _rel(truth, phased) <= 2 * _rel(truth, keras_value) + TOLERANCE[policy], what


def test_fast_layers_keep_the_seed_networks_variables():
    fast = dataclasses.replace(config_lib.SEED, fused_batchnorm=True, phase_upsampling=True)
    for build in (networks.build_generator, networks.build_discriminator):
        plain, quick = build(config_lib.SEED), build(fast)
        assert networks.parameter_table(plain) == networks.parameter_table(quick)
        assert [v.path for v in plain.weights] == [v.path for v in quick.weights]


def test_the_seed_uses_keras_layers_and_the_default_the_fast_ones():
    fast = (FusedBatchNormalization, UpsampledConv2DTranspose)
    for build in (networks.build_generator, networks.build_discriminator):
        assert not any(isinstance(layer, fast) for layer in build(config_lib.SEED).layers)
    assert isinstance(networks.build_discriminator(config_lib.DEFAULT).get_layer("conv1_bn"),
                      FusedBatchNormalization)
    generator = networks.build_generator(config_lib.DEFAULT)
    # Only the 1-channel output conv is phased: the 64-channel one is faster as it is.
    assert isinstance(generator.get_layer("convt2"), UpsampledConv2DTranspose)
    assert type(generator.get_layer("convt1")) is keras.layers.Conv2DTranspose
    assert "up1" in [layer.name for layer in generator.layers]
