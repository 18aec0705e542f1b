"""What every objective provides (Objective) and the reductions they share.

Every loss is a float32 scalar: the mean over the batch a replica holds. No objective knows
about tf.distribute: model_pkg/distribute.py turns a replica's mean into its share of the
global batch's mean.
"""

import keras
import tensorflow as tf


class Objective:
    """One objective: D's head, D's and G's losses, D's diagnostics.

    Class attributes:
      name: config.objective's value (its REGISTRY key).
      conditional: True when D takes (image, label), False when the image alone.
      outputs: the width of D's logits (the default head, a Dense named "logits").

    ``out`` below is D's output on a batch of B pairs (whatever the head gives: logits
    float32 [B, outputs], or scores [B]); labels are int32 [B] in 0..9.
    """

    name = None
    conditional = False
    outputs = None

    def head(self, image, features):
        """D as a keras.Model named "discriminator", from its trunk.

        Args:
          image: D's keras.Input, float32 [N, 28, 28, 1] in [-1, 1].
          features: the trunk's output phi(x), [N, 128] (bfloat16 under mixed precision).
        Returns:
          keras.Model(image, logits float32 [N, outputs]); an objective with another head
          (a label input, a score) overrides this.
        """
        logits = keras.layers.Dense(self.outputs, name="logits", dtype="float32")(features)
        return keras.Model(image, logits, name="discriminator")

    def d_loss(self, real_out, real_labels, fake_out, fake_labels):
        """D's loss on real pairs and generated pairs (G asked for fake_labels): a float32
        scalar, a batch mean."""
        raise NotImplementedError

    def g_loss(self, fake_out, labels):
        """G's loss on D's output for its digits of ``labels``: a float32 scalar, a batch mean."""
        raise NotImplementedError

    def real_accuracy(self, real_out, labels):
        """The share of real pairs D gets right: float32 scalar in [0, 1]. Default: the top
        logit is the label."""
        return share(tf.equal(top(real_out), tf.cast(labels, tf.int32)))

    def fake_share(self, fake_out, labels):
        """The share of generated pairs D calls generated: float32 scalar in [0, 1]."""
        raise NotImplementedError


def batch_mean(values):
    """Mean of float32 values [B] as Keras' "sum_over_batch_size" reduces them (sum, then a
    division by the count), without Keras' division by the replica count: the seed's bits."""
    count = tf.cast(tf.reduce_prod(tf.shape(values)), values.dtype)
    return tf.math.divide_no_nan(tf.reduce_sum(values), count)


def cross_entropy(labels, logits):
    """Mean sparse categorical cross-entropy: a float32 scalar >= 0.

    Args:
      labels: int32 [B], each in 0..K-1.
      logits: float32 [B, K], unnormalised.
    """
    return batch_mean(keras.losses.sparse_categorical_crossentropy(labels, logits,
                                                                   from_logits=True))


def top(logits):
    """int32 [B]: the index of each row's largest logit (logits [B, K])."""
    return tf.argmax(logits, axis=-1, output_type=tf.int32)


def share(hits):
    """float32 scalar in [0, 1]: the share of True in bool hits [B]."""
    return tf.reduce_mean(tf.cast(hits, tf.float32))
