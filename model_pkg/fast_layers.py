"""Training-speed versions of Keras layers: the same variables, names and function.

Used by presets with ``config.fused_batchnorm`` or ``config.phase_upsampling``
(model_pkg/networks.py); the seed keeps the plain Keras layers, whose exact rounding its
bit-identical runs depend on.
"""

import keras
import tensorflow as tf
from keras import layers
from keras.src import backend as keras_backend  # AutocastScope: no public name


@keras.saving.register_keras_serializable(package="model_pkg")
class FusedBatchNormalization(layers.BatchNormalization):
    """keras.layers.BatchNormalization whose training pass is one FusedBatchNormV3 op.

    Keras 3 computes a training-mode BatchNorm from about 10 element-wise and reduction
    ops (moments, then x * scale + shift) in float32, with casts around them under
    mixed_bfloat16, and the gradient from as many again: the profile put a large share of
    the default preset's step there (docs/speed.md). The fused op reads bfloat16 directly, keeps its
    statistics in float32 and has a single gradient op. Inference, and every option the
    fused op lacks (masks, synchronized statistics, renorm, another axis), stay Keras'.
    center=False or scale=False (model_pkg/conditional_bn.py) fuse too.
    """

    def call(self, inputs, training=None, mask=None):
        if not (training and self.trainable and self._fusable(inputs, mask)):
            return super().call(inputs, training=training, mask=mask)
        channels = inputs.shape[-1]
        x = inputs if len(inputs.shape) == 4 else tf.reshape(inputs, [-1, 1, 1, channels])
        # Without its own scale or offset (a ConditionalBatchNorm's inner layer) the op
        # still takes both: ones and zeros make it the plain normalisation.
        gamma = self.gamma.value if self.scale else tf.ones([channels], tf.float32)
        beta = self.beta.value if self.center else tf.zeros([channels], tf.float32)
        y, mean, unbiased = tf.compat.v1.nn.fused_batch_norm(
            x, gamma, beta, epsilon=self.epsilon, is_training=True)
        # The op returns Bessel's unbiased variance for the moving average; Keras 3 keeps
        # the biased (population) variance of the batch, which this reproduces.
        count = tf.cast(tf.size(x) // channels, tf.float32)
        variance = unbiased * ((count - 1.0) / count)
        self.moving_mean.assign(self.moving_mean * self.momentum + mean * (1.0 - self.momentum))
        self.moving_variance.assign(
            self.moving_variance * self.momentum + variance * (1.0 - self.momentum))
        y = y if len(inputs.shape) == 4 else tf.reshape(y, tf.shape(inputs))
        return tf.cast(y, self.compute_dtype)

    def _fusable(self, inputs, mask):
        rank = len(inputs.shape)
        return (mask is None and not self.synchronized and not self.renorm
                and rank in (2, 4)
                and self.axis in (-1, rank - 1) and inputs.shape[-1] is not None)


# Nearest x2 upsampling then a 3x3 tap ky reads low-res offset (a + ky - 1) // 2 for output
# row phase a: taps (0 | 1, 2) for a = 0 and (0, 1 | 2) for a = 1. _PHASE_TAPS[a, i, ky] = 1
# where tap ky lands on the i-th of the two low-res rows phase a reads (export/onnx_graph.py).
_PHASE_TAPS = ((( 1.0, 0.0, 0.0), (0.0, 1.0, 1.0)),
               (( 1.0, 1.0, 0.0), (0.0, 0.0, 1.0)))


@keras.saving.register_keras_serializable(package="model_pkg")
class UpsampledConv2DTranspose(layers.Conv2DTranspose):
    """UpSampling2D(2) then this Conv2DTranspose (3x3, stride 1, 'same'), on the low-res map.

    Each output pixel phase (a, b) of the upsampled conv reads only a 2x2 window of the
    low-res input, so one 2x2 conv with four times the output channels over the padded input,
    sliced per phase and interleaved by depth_to_space, is the same function with 4/9 of
    the multiply-adds (plus the border) and no upsampled tensor. The variables are the
    Conv2DTranspose's own (kernel [3, 3, out, in], bias), transformed by differentiable
    ops each call in float32, then rounded once to the compute dtype.
    """

    def __init__(self, filters, kernel_size=3, **kwargs):
        super().__init__(filters, kernel_size, padding="same", **kwargs)
        if self.kernel_size != (3, 3) or self.strides != (1, 1):
            raise ValueError("the phase form is for 3x3, stride-1 kernels")

    def call(self, inputs):
        x = tf.cast(inputs, self.compute_dtype)
        height, width, out = x.shape[1], x.shape[2], self.filters
        y = tf.nn.conv2d(tf.pad(x, [[0, 0], [1, 1], [1, 1], [0, 0]]), self._phase_kernel(),
                         1, "VALID")
        phases = [y[:, a:a + height, b:b + width, (2 * a + b) * out:(2 * a + b + 1) * out]
                  for a in (0, 1) for b in (0, 1)]
        y = tf.concat(phases, -1)
        if self.use_bias:
            with keras_backend.AutocastScope(None):
                bias = tf.tile(self.bias.value, [4])
            y = tf.nn.bias_add(y, tf.cast(bias, self.compute_dtype))
        y = tf.nn.depth_to_space(y, 2)
        return y if self.activation is None else self.activation(y)

    def _phase_kernel(self):
        """[2, 2, in, 4 out] phase kernels, channel (2a + b) * out + o (DepthToSpace order)."""
        # Conv2DTranspose at stride 1 is the cross-correlation with the flipped kernel.
        # Keras reads a mixed-precision layer's variables in its compute dtype even with
        # autocast off; the tap sums are made in float32 and rounded once, below.
        with keras_backend.AutocastScope(None):
            kernel = self.kernel.value
        conv = tf.transpose(tf.reverse(kernel, [0, 1]), [0, 1, 3, 2])
        taps = tf.constant(_PHASE_TAPS, tf.float32)
        phase = tf.einsum("ayk,bxl,klio->yxiabo", taps, taps, conv)
        shape = tf.shape(conv)
        phase = tf.reshape(phase, [2, 2, shape[2], 4 * shape[3]])
        return tf.cast(phase, self.compute_dtype)

    def compute_output_shape(self, input_shape):
        n, h, w, c = input_shape
        return super().compute_output_shape(
            (n, None if h is None else 2 * h, None if w is None else 2 * w, c))
