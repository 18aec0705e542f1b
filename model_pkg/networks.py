"""The seed's generator and discriminator as Keras functional models.

Pure: builds layers, does no I/O, holds no globals. Layer names are fixed so
that parameter tables, checkpoints and exports refer to the same things.
"""

import keras
from keras import layers

from model_pkg import contract, machine, objectives
from model_pkg.conditional_bn import ConditionalBatchNorm
from model_pkg.fast_layers import FusedBatchNormalization, UpsampledConv2DTranspose

_SEED_GRID = 7          # the generator starts from a 7x7 feature map
_SEED_FILTERS = 64      # channels of D's convs (G's: config.g_filters, the seed's 64)
_DISC_HIDDEN = 128      # width of the discriminator's dense layer


def _policy(config):
    """Keras dtype policy of the hidden layers (outputs stay float32 for stable losses)."""
    dtype = machine.compute_dtype(config.compute_dtype)   # "auto": what this machine has
    return "mixed_bfloat16" if dtype == "bfloat16" else "float32"


def build_generator(config, synchronized_bn=False):
    """The conditional generator G(label, noise).

    Inputs:
      label: int32 [N] in 0..9 (one-hot encoded inside the model).
      noise: float32 [N, 100], standard normal in training.
    Output:
      float32 [N, 28, 28, 1] in [-1, 1] (tanh); export maps it to [0, 1].
    Hidden: the Dense gives [N, 7 * 7 * F], reshaped to [N, 7, 7, F]; convt1 [N, 14, 14, F];
    convt2 [N, 28, 28, 1], with F = ``config.g_filters`` (the seed's 64).
    Seed table: Dense 348,096; BN 12,544; ConvT 36,928; BN 256; ConvT 577
    = 398,401 parameters. ``config.g_conditional_bn``: each BN takes the label too
    (model_pkg/conditional_bn.py). ``synchronized_bn``: see _bn.
    """
    label = keras.Input(shape=(), dtype="int32", name=contract.LABEL_KEY)
    noise = keras.Input(shape=(contract.NOISE_DIM,), dtype="float32", name=contract.NOISE_KEY)
    one_hot = layers.Lambda(
        lambda y: keras.ops.one_hot(y, contract.NUM_CLASSES, dtype="float32"),
        output_shape=(contract.NUM_CLASSES,), name="one_hot")(label)
    dt, filters = _policy(config), config.g_filters
    x = layers.Concatenate(name="concat", dtype=dt)([one_hot, noise])
    x = layers.Dense(_SEED_GRID * _SEED_GRID * filters, name="dense", dtype=dt)(x)
    x = _generator_bn(config, "dense_bn", synchronized_bn, x, label)
    x = layers.LeakyReLU(config.leaky_slope, name="dense_act", dtype=dt)(x)
    x = layers.Reshape((_SEED_GRID, _SEED_GRID, filters), name="reshape", dtype=dt)(x)
    x = _upsampled_conv(config, filters, 1)(x)
    x = _generator_bn(config, "convt1_bn", synchronized_bn, x, label)
    x = layers.LeakyReLU(config.leaky_slope, name="convt1_act", dtype=dt)(x)
    x = _upsampled_conv(config, contract.IMAGE_CHANNELS, 2)(x)
    images = layers.Activation(config.output_activation, name="output", dtype="float32")(x)
    return keras.Model([label, noise], images, name="generator")


def _generator_bn(config, name, synchronized_bn, x, label):
    """G's BatchNorm ``name`` applied to ``x``: the seed's _bn, or with
    ``config.g_conditional_bn`` a ConditionalBatchNorm of the same name over _bn's kind
    without its own scale and offset (its moving statistics live in the inner layer)."""
    if not config.g_conditional_bn:
        return _bn(config, name, synchronized_bn)(x)
    norm = _bn(config, f"{name}_norm", synchronized_bn, affine=False)
    return ConditionalBatchNorm(norm, name=name, dtype=_policy(config))([x, label])


def _upsampled_conv(config, filters, i):
    """Layers up{i} (nearest x2) and convt{i} (3x3, 'same') as one callable.

    ``config.phase_upsampling``: for the output layer (F -> 1 channel) one layer, convt{i},
    computes both (same variables). oneDNN's transposed conv with one output channel is
    its slow path (as long as the 64-channel convt1 here); convt1 stays Keras': its
    phase form measured slower than oneDNN's own transposed conv (docs/speed.md)."""
    dt = _policy(config)
    if config.phase_upsampling and filters == contract.IMAGE_CHANNELS:
        return UpsampledConv2DTranspose(filters, 3, name=f"convt{i}", dtype=dt)
    up = layers.UpSampling2D(2, name=f"up{i}", dtype=dt)
    conv = layers.Conv2DTranspose(filters, 3, padding="same", name=f"convt{i}", dtype=dt)
    return lambda x: conv(up(x))


def build_discriminator(config, synchronized_bn=False):
    """The discriminator: the seed's trunk phi(x) and the head ``config.objective`` gives
    (model_pkg/objectives/).

    Input:  image float32 [N, 28, 28, 1] in [-1, 1] (and label int32 [N] in 0..9 when the
            objective is conditional, as "projection_hinge").
    Output: float32, the objective's: logits [N, 11] for "k_plus_1" (0..9 the digits, 10
            "fake"), [N, 20] for "2k" (y: a real y, 10 + y: a generated y), or scores [N] for
            "projection_hinge" (> 0 reads as a real pair (x, y)).
    Seed table (k_plus_1): 640; 256; 36,928; 256; 401,536; 512; 1,419 = 441,547 parameters.
    ``synchronized_bn``: see _bn.
    """
    image = keras.Input(shape=contract.IMAGE_SHAPE, dtype="float32", name="image")
    x, dt = image, _policy(config)
    for i in (1, 2):
        x = layers.Conv2D(_SEED_FILTERS, 3, padding="same", name=f"conv{i}", dtype=dt)(x)
        x = _bn(config, f"conv{i}_bn", synchronized_bn)(x)
        x = layers.LeakyReLU(config.leaky_slope, name=f"conv{i}_act", dtype=dt)(x)
        x = layers.MaxPooling2D(2, name=f"pool{i}", dtype=dt)(x)
    x = layers.Flatten(name="flatten", dtype=dt)(x)
    x = layers.Dense(_DISC_HIDDEN, name="dense", dtype=dt)(x)
    x = _bn(config, "dense_bn", synchronized_bn)(x)
    features = layers.LeakyReLU(config.leaky_slope, name="dense_act", dtype=dt)(x)
    return objectives.get(config.objective).head(image, features)


def _bn(config, name, synchronized=False, affine=True):
    """BatchNorm with Keras' defaults. ``synchronized`` (only under a tf.distribute strategy
    with more than one replica): the statistics are all-reduced over every replica, so each
    BatchNorm normalises over the global batch as the seed's does on one device; per-replica
    statistics would be a different model (a smaller, noisier batch) and would let the moving
    averages drift apart per replica. The variables and their names are the same either way,
    so checkpoints move between strategies. One device keeps the plain layer: its moments
    are computed another way (E[x^2] - E[x]^2), which would change the seed's bits.
    ``config.fused_batchnorm``: the same layer computed by one fused op in training.
    ``affine=False``: no gamma or beta of its own (a ConditionalBatchNorm supplies them)."""
    kind = FusedBatchNormalization if config.fused_batchnorm else layers.BatchNormalization
    return kind(momentum=config.bn_momentum, epsilon=config.bn_epsilon, center=affine,
                scale=affine, synchronized=synchronized, name=name, dtype=_policy(config))


def parameter_table(model):
    """[(layer name, parameter count)] for layers that hold parameters."""
    return [(layer.name, layer.count_params()) for layer in model.layers
            if layer.count_params()]
