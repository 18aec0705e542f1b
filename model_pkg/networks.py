"""The seed's generator and discriminator as Keras functional models.

Pure: builds layers, does no I/O, holds no globals. Layer names are fixed so
that parameter tables, checkpoints and exports refer to the same things.
"""

import keras
from keras import layers

from model_pkg import contract

_SEED_GRID = 7          # the generator starts from a 7x7 feature map
_SEED_FILTERS = 64      # channels of every hidden conv and the 7x7 map
_DISC_HIDDEN = 128      # width of the discriminator's dense layer


def _policy(config):
    """Keras dtype policy of the hidden layers (outputs stay float32 for stable losses)."""
    return "mixed_bfloat16" if config.compute_dtype == "bfloat16" else "float32"


def build_generator(config):
    """The conditional generator G(label, noise).

    Inputs:
      label: int32 [N] in 0..9 (one-hot encoded inside the model).
      noise: float32 [N, 100], standard normal in training.
    Output:
      float32 [N, 28, 28, 1] in [-1, 1] (tanh); export maps it to [0, 1].
    Seed table: Dense 348,096; BN 12,544; ConvT 36,928; BN 256; ConvT 577
    = 398,401 parameters.
    """
    label = keras.Input(shape=(), dtype="int32", name=contract.LABEL_KEY)
    noise = keras.Input(shape=(contract.NOISE_DIM,), dtype="float32", name=contract.NOISE_KEY)
    one_hot = layers.Lambda(
        lambda y: keras.ops.one_hot(y, contract.NUM_CLASSES, dtype="float32"),
        output_shape=(contract.NUM_CLASSES,), name="one_hot")(label)
    dt = _policy(config)
    x = layers.Concatenate(name="concat", dtype=dt)([one_hot, noise])
    x = layers.Dense(_SEED_GRID * _SEED_GRID * _SEED_FILTERS, name="dense", dtype=dt)(x)
    x = _bn(config, "dense_bn")(x)
    x = layers.LeakyReLU(config.leaky_slope, name="dense_act", dtype=dt)(x)
    x = layers.Reshape((_SEED_GRID, _SEED_GRID, _SEED_FILTERS), name="reshape", dtype=dt)(x)
    x = layers.UpSampling2D(2, name="up1", dtype=dt)(x)
    x = layers.Conv2DTranspose(_SEED_FILTERS, 3, padding="same", name="convt1", dtype=dt)(x)
    x = _bn(config, "convt1_bn")(x)
    x = layers.LeakyReLU(config.leaky_slope, name="convt1_act", dtype=dt)(x)
    x = layers.UpSampling2D(2, name="up2", dtype=dt)(x)
    x = layers.Conv2DTranspose(contract.IMAGE_CHANNELS, 3, padding="same", name="convt2",
                               dtype=dt)(x)
    images = layers.Activation(config.output_activation, name="output", dtype="float32")(x)
    return keras.Model([label, noise], images, name="generator")


def build_discriminator(config):
    """The K+1 discriminator D(image) -> 11 logits.

    Input:  float32 [N, 28, 28, 1] in [-1, 1].
    Output: float32 [N, 11] logits: classes 0..9 are the digits, 10 is "fake".
    Seed table: 640; 256; 36,928; 256; 401,536; 512; 1,419 = 441,547 parameters.
    config.d_normalization "none" drops the three BatchNorms; "spectral" drops them
    and divides each kernel by its spectral norm (one u vector per kernel).
    """
    image = keras.Input(shape=contract.IMAGE_SHAPE, dtype="float32", name="image")
    x, dt = image, _policy(config)
    spectral = config.d_normalization == "spectral"
    conv = SpectralConv2D if spectral else layers.Conv2D
    dense = SpectralDense if spectral else layers.Dense
    for i in (1, 2):
        x = conv(_SEED_FILTERS, 3, padding="same", name=f"conv{i}", dtype=dt)(x)
        x = _d_bn(config, f"conv{i}_bn")(x)
        x = layers.LeakyReLU(config.leaky_slope, name=f"conv{i}_act", dtype=dt)(x)
        x = layers.MaxPooling2D(2, name=f"pool{i}", dtype=dt)(x)
    if config.minibatch_stddev:
        x = MinibatchStddev(name="minibatch_stddev", dtype=dt)(x)
    x = layers.Flatten(name="flatten", dtype=dt)(x)
    x = dense(_DISC_HIDDEN, name="dense", dtype=dt)(x)
    x = _d_bn(config, "dense_bn")(x)
    x = layers.LeakyReLU(config.leaky_slope, name="dense_act", dtype=dt)(x)
    logits = dense(contract.NUM_DISC_OUTPUTS, name="logits", dtype="float32")(x)
    return keras.Model(image, logits, name="discriminator")


class MinibatchStddev(layers.Layer):
    """Appends one channel: the batch's mean per-feature standard deviation (Karras 2018).

    [B, H, W, C] -> [B, H, W, C + 1]. A batch of near-identical images has a small
    value, so D can see a lack of variety that per-image features cannot show.
    """

    def call(self, x):
        x32 = keras.ops.cast(x, "float32")
        std = keras.ops.sqrt(keras.ops.var(x32, axis=0) + 1e-8)        # [H, W, C]
        value = keras.ops.mean(std)
        shape = keras.ops.shape(x)
        extra = keras.ops.broadcast_to(keras.ops.cast(value, x.dtype),
                                       (shape[0], shape[1], shape[2], 1))
        return keras.ops.concatenate([x, extra], axis=-1)

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], input_shape[-1] + 1)


class _SpectralNorm:
    """Mixin: the kernel divided by its largest singular value (Miyato et al. 2018).

    One power iteration per training call refines the singular vector estimate
    ``sn_u`` [1, out]; gradients flow through the division, as in SNGAN.
    """

    def _build_u(self, out):
        self.sn_u = self.add_weight(shape=(1, out), trainable=False, name="sn_u",
                                    initializer=keras.initializers.RandomNormal(seed=1))

    def normalized_kernel(self, training):
        kernel = keras.ops.cast(self.kernel, "float32")
        w = keras.ops.reshape(kernel, (-1, kernel.shape[-1]))               # [in, out]
        u = keras.ops.cast(self.sn_u, "float32")
        v = _unit(keras.ops.matmul(u, keras.ops.transpose(w)))               # [1, in]
        u = keras.ops.stop_gradient(_unit(keras.ops.matmul(v, w)))          # [1, out]
        v = keras.ops.stop_gradient(v)
        if training:
            self.sn_u.assign(u)
        sigma = keras.ops.sum(keras.ops.matmul(v, w) * u)
        return keras.ops.cast(kernel / sigma, self.compute_dtype)


def _unit(x):
    return x / (keras.ops.sqrt(keras.ops.sum(x * x)) + 1e-12)


class SpectralConv2D(_SpectralNorm, layers.Conv2D):
    """Conv2D with a spectrally normalised kernel (same arguments)."""

    def build(self, input_shape):
        super().build(input_shape)
        self._build_u(self.filters)

    def call(self, inputs, training=False):
        out = self.convolution_op(inputs, self.normalized_kernel(training))
        return out + keras.ops.cast(self.bias, out.dtype)


class SpectralDense(_SpectralNorm, layers.Dense):
    """Dense with a spectrally normalised kernel (same arguments)."""

    def build(self, input_shape):
        super().build(input_shape)
        self._build_u(self.units)

    def call(self, inputs, training=False):
        out = keras.ops.matmul(inputs, self.normalized_kernel(training))
        return out + keras.ops.cast(self.bias, out.dtype)


def _d_bn(config, name):
    """D's BatchNorm, or the identity when config.d_normalization is "none" or "spectral"."""
    if config.d_normalization in ("none", "spectral"):
        return lambda x: x
    return _bn(config, name)


def _bn(config, name):
    return layers.BatchNormalization(momentum=config.bn_momentum, epsilon=config.bn_epsilon,
                                     name=name, dtype=_policy(config))


def parameter_table(model):
    """[(layer name, parameter count)] for layers that hold parameters."""
    return [(layer.name, layer.count_params()) for layer in model.layers
            if layer.count_params()]
