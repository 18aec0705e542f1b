"""projection_hinge (Miyato & Koyama 2018), the default preset's objective.

D scores the pair: s = psi(phi(x)) + <embed(y), phi(x)>, > 0 reads as a real pair (x, y).
  D: mean relu(1 - s_real) + mean relu(1 + s_fake);  G: -mean s_fake.
"""

import keras
import tensorflow as tf
from keras import layers

from model_pkg import contract
from model_pkg.objectives.base import Objective, share


def discriminator_loss(real_scores, fake_scores):
    """The hinge loss: real pairs above +1, generated pairs below -1.

    Args:
      real_scores, fake_scores: float32 [B], D's scores of real and of generated pairs.
    Returns:
      float32 scalar >= 0 (0 once every real score is >= 1 and every fake one <= -1).
    """
    return (tf.reduce_mean(tf.nn.relu(1.0 - real_scores)) +
            tf.reduce_mean(tf.nn.relu(1.0 + fake_scores)))


def generator_loss(fake_scores):
    """G raises D's score of its pairs.

    Args:
      fake_scores: float32 [B], D's scores of G's pairs.
    Returns:
      float32 scalar, unbounded: -mean score.
    """
    return -tf.reduce_mean(fake_scores)


class ProjectionHinge(Objective):
    name = "projection_hinge"
    conditional = True

    def head(self, image, features):
        """score(x, y) = psi(phi(x)) + <embed(y), phi(x)>, in float32.

        Returns keras.Model([image, label int32 [N] in 0..9], score float32 [N]).
        """
        label = keras.Input(shape=(), dtype="int32", name=contract.LABEL_KEY)
        features = layers.Activation("linear", name="features_f32", dtype="float32")(features)
        unconditional = layers.Dense(1, name="psi", dtype="float32")(features)
        embedded = layers.Embedding(contract.NUM_CLASSES, features.shape[-1], name="embed",
                                    dtype="float32")(label)
        projection = layers.Dot(axes=-1, name="projection", dtype="float32")(
            [embedded, features])
        score = layers.Add(name="score", dtype="float32")([unconditional, projection])
        score = layers.Reshape((), name="squeeze", dtype="float32")(score)
        return keras.Model([image, label], score, name="discriminator")

    def d_loss(self, real_out, real_labels, fake_out, fake_labels):
        return discriminator_loss(real_out, fake_out)

    def g_loss(self, fake_out, labels):
        return generator_loss(fake_out)

    def real_accuracy(self, real_out, labels):
        return share(real_out > 0)

    def fake_share(self, fake_out, labels):
        return share(fake_out < 0)


OBJECTIVE = ProjectionHinge()
