"""Class-conditional BatchNorm for the generator (``config.g_conditional_bn``).

As in the projection cGAN (Miyato & Koyama 2018): the batch is normalised by a BatchNorm
without a scale or offset of its own, then each row is scaled and shifted by the gamma and
beta of its label, two [NUM_CLASSES, C] tables (gamma starts at 1, beta at 0, so a new layer
is the plain normalisation). The label then shapes every hidden layer of G, not only the
Dense layer's input.
"""

import keras
from keras import layers

from model_pkg import contract


@keras.saving.register_keras_serializable(package="model_pkg")
class ConditionalBatchNorm(layers.Layer):
    """[x, label] -> BN(x) * gamma[label] + beta[label].

    x: [N, C] (after a Dense) or [N, H, W, C] (after a conv); label: int32 [N] in 0..9.
    Output: the shape of x. ``norm``: the BatchNormalization layer to normalise with, made
    with center=False and scale=False (plain, fused or synchronized: networks._bn builds it),
    so its moving statistics, and the options that come with the kind, stay its own.
    """

    def __init__(self, norm, **kwargs):
        super().__init__(**kwargs)
        if norm.center or norm.scale:
            raise ValueError("the inner BatchNorm must have center=False and scale=False: "
                             "gamma and beta come from the label")
        self.norm = norm

    def build(self, input_shape):
        x_shape, _ = input_shape
        channels = x_shape[-1]
        self.norm.build(x_shape)
        self.gamma = self.add_weight(shape=(contract.NUM_CLASSES, channels), name="gamma",
                                     initializer="ones")
        self.beta = self.add_weight(shape=(contract.NUM_CLASSES, channels), name="beta",
                                    initializer="zeros")

    def call(self, inputs, training=None):
        x, label = inputs
        y = self.norm(x, training=training)
        # [N, C] rows of the tables, broadcast over the spatial axes of a conv map.
        shape = [-1] + [1] * (len(x.shape) - 2) + [x.shape[-1]]
        gamma = keras.ops.reshape(keras.ops.take(self.gamma, label, axis=0), shape)
        beta = keras.ops.reshape(keras.ops.take(self.beta, label, axis=0), shape)
        return y * keras.ops.cast(gamma, y.dtype) + keras.ops.cast(beta, y.dtype)

    def compute_output_shape(self, input_shape):
        return input_shape[0]

    def get_config(self):
        return {**super().get_config(), "norm": keras.saving.serialize_keras_object(self.norm)}

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["norm"] = keras.saving.deserialize_keras_object(config["norm"])
        return cls(**config)
