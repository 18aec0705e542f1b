"""The GAN objectives: D's loss and G's loss for each ``config.objective``.

k_plus_1 (the seed's; Salimans et al. 2016): D has 11 logits, the digits 0..9 and
  "fake" (contract.FAKE_CLASS). D: CE(real -> y) + CE(generated -> fake); G: CE(G(z, y) -> y).
  At D's optimum G's loss is a GAN term plus -log p_data(y | x): it pulls each digit towards
  where its class is certain, so it loses variety within a class (Shu 2017; Gong et al. 2019).
2k (Hou et al. 2022's ADC head, alone): D has 20 logits, y for a real (x, y) and 10 + y for a
  generated one. D: CE(real -> y) + CE(generated -> 10 + y). G: softplus(l[10+y] - l[y]).
  At D's optimum l[y] - l[10+y] = log p_data(x, y) / p_g(x, y), so G's loss is the
  non-saturating GAN loss on the pair (x, y), with no class-certainty term. ADC's own G
  term, CE(., y) - CE(., 10+y), equals l[10+y] - l[y]: unbounded below, so G keeps pushing
  pairs D already calls real; softplus stops there and keeps the non-saturating shape the
  seed's CE has for the K+1 head.
projection_hinge (Miyato & Koyama 2018): D scores the pair, s = psi(phi(x)) + <e_y, phi(x)>.
  D: mean relu(1 - s_real) + mean relu(1 + s_fake); G: -mean s_fake.

Every loss is a float32 scalar: a mean over the (per-replica) batch, as Keras' reduction for the
seed; under a tf.distribute strategy ConditionalGAN.update rescales it to the global batch.
"""

import keras
import tensorflow as tf

from model_pkg import contract


def _cross_entropy(labels, logits):
    """Mean CE of int labels [B] against float logits [B, K] (Keras' reduction, as the seed).

    Under a tf.distribute strategy of several replicas Keras' loss would also divide by the
    replica count, unlike the plain means below; there the plain batch mean is taken, so that
    every loss here is a batch mean and ConditionalGAN.update scales each term alike.
    """
    if tf.distribute.has_strategy() and tf.distribute.get_strategy().num_replicas_in_sync > 1:
        return tf.reduce_mean(keras.losses.sparse_categorical_crossentropy(
            labels, logits, from_logits=True))
    return keras.losses.SparseCategoricalCrossentropy(from_logits=True)(labels, logits)


def discriminator_loss(real_logits, real_labels, fake_logits):
    """K+1: real digits to their labels, generated digits to "fake".

    real_logits, fake_logits: float32 [B, 11]; real_labels: int32 [B] in 0..9.
    """
    fake_class = tf.fill(tf.shape(fake_logits)[:1], contract.FAKE_CLASS)
    return _cross_entropy(real_labels, real_logits) + _cross_entropy(fake_class, fake_logits)


def generator_loss(fake_logits, asked_labels):
    """K+1: D should read each generated digit as the digit G was asked to draw.

    fake_logits: float32 [B, 11] of D on G(z, y); asked_labels: int32 [B] (the y).
    """
    return _cross_entropy(asked_labels, fake_logits)


def twok_discriminator_loss(real_logits, real_labels, fake_logits, fake_labels):
    """2K: a real (x, y) to class y, a generated (x, y) to class 10 + y. Logits [B, 20]."""
    return (_cross_entropy(real_labels, real_logits) +
            _cross_entropy(fake_labels + contract.NUM_CLASSES, fake_logits))


def twok_generator_loss(fake_logits, asked_labels):
    """2K: mean softplus(l[10+y] - l[y]) over the batch. fake_logits [B, 20], labels [B]."""
    real_logit = tf.gather(fake_logits, asked_labels, batch_dims=1)
    fake_logit = tf.gather(fake_logits, asked_labels + contract.NUM_CLASSES, batch_dims=1)
    return tf.reduce_mean(tf.nn.softplus(fake_logit - real_logit))


def hinge_discriminator_loss(real_scores, fake_scores):
    """Projection/hinge: scores [B] of real and generated pairs."""
    return (tf.reduce_mean(tf.nn.relu(1.0 - real_scores)) +
            tf.reduce_mean(tf.nn.relu(1.0 + fake_scores)))


def hinge_generator_loss(fake_scores):
    """Projection/hinge: G raises D's score of its pairs. fake_scores [B]."""
    return -tf.reduce_mean(fake_scores)


class Objective:
    """One objective's losses and D diagnostics, as the training step calls them.

    d_loss(real_out, real_labels, fake_out, fake_labels) and g_loss(fake_out, labels) are
    float32 scalars; real_accuracy / fake_share: the share of real pairs D gets right and of
    generated pairs D calls generated (float32 scalars in [0, 1]). ``conditional``: D takes
    (image, label), not the image alone.
    """

    def __init__(self, name):
        self.name = name
        self.conditional = name == "projection_hinge"

    def d_loss(self, real_out, real_labels, fake_out, fake_labels):
        if self.name == "2k":
            return twok_discriminator_loss(real_out, real_labels, fake_out, fake_labels)
        if self.name == "projection_hinge":
            return hinge_discriminator_loss(real_out, fake_out)
        return discriminator_loss(real_out, real_labels, fake_out)

    def g_loss(self, fake_out, labels):
        if self.name == "2k":
            return twok_generator_loss(fake_out, labels)
        if self.name == "projection_hinge":
            return hinge_generator_loss(fake_out)
        return generator_loss(fake_out, labels)

    def real_accuracy(self, real_out, labels):
        if self.conditional:
            return _share(real_out > 0)
        return _share(tf.equal(_top(real_out), tf.cast(labels, tf.int32)))

    def fake_share(self, fake_out, labels):
        if self.conditional:
            return _share(fake_out < 0)
        if self.name == "2k":
            return _share(_top(fake_out) >= contract.NUM_CLASSES)
        return _share(tf.equal(_top(fake_out), contract.FAKE_CLASS))


def _top(logits):
    return tf.argmax(logits, axis=-1, output_type=tf.int32)


def _share(hits):
    return tf.reduce_mean(tf.cast(hits, tf.float32))
