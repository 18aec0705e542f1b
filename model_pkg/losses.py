"""The K+1 GAN's losses (Salimans et al. 2016; the seed report's).

D has 11 logits: the digits 0..9 and "fake" (contract.FAKE_CLASS). Each loss
is a mean sparse categorical cross-entropy over the batch, a float32 scalar.
"""

import keras
import tensorflow as tf

from model_pkg import contract


def _cross_entropy(labels, logits):
    """Mean CE of int labels [B] against float logits [B, 11] (Keras' reduction, as the seed)."""
    return keras.losses.SparseCategoricalCrossentropy(from_logits=True)(labels, logits)


def discriminator_loss(real_logits, real_labels, fake_logits):
    """Real digits to their labels, generated digits to "fake".

    real_logits, fake_logits: float32 [B, 11]; real_labels: int32 [B] in 0..9.
    """
    fake_class = tf.fill(tf.shape(fake_logits)[:1], contract.FAKE_CLASS)
    return _cross_entropy(real_labels, real_logits) + _cross_entropy(fake_class, fake_logits)


def generator_loss(fake_logits, asked_labels):
    """D should read each generated digit as the digit G was asked to draw.

    fake_logits: float32 [B, 11] of D on G(z, y); asked_labels: int32 [B] (the y).
    """
    return _cross_entropy(asked_labels, fake_logits)
