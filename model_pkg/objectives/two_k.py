"""2k (Hou et al. 2022's ADC head, alone): D judges the pair (digit, label) with 2K logits.

D has 20 logits: y for a real (x, y), 10 + y for a generated one.
  D: CE(real -> y) + CE(generated -> 10 + y);  G: softplus(l[10+y] - l[y]).
At D's optimum l[y] - l[10+y] = log p_data(x, y) / p_g(x, y), so G's loss is the
non-saturating GAN loss on the pair (x, y), with no class-certainty term. ADC's own G term,
CE(., y) - CE(., 10+y), equals l[10+y] - l[y]: unbounded below, so G keeps pushing pairs D
already calls real; softplus stops there and keeps the non-saturating shape the seed's CE has
for the K+1 head.
"""

import tensorflow as tf

from model_pkg import contract
from model_pkg.objectives.base import Objective, cross_entropy, share, top


def discriminator_loss(real_logits, real_labels, fake_logits, fake_labels):
    """A real (x, y) to class y, a generated (x, y) to class 10 + y.

    Args:
      real_logits, fake_logits: float32 [B, 20] of D on real and on generated pairs.
      real_labels, fake_labels: int32 [B] in 0..9 (the labels of the pairs).
    Returns:
      float32 scalar >= 0: the two batch-mean cross-entropies, summed.
    """
    return (cross_entropy(real_labels, real_logits) +
            cross_entropy(fake_labels + contract.NUM_CLASSES, fake_logits))


def generator_loss(fake_logits, asked_labels):
    """G raises l[y] over l[10+y] on its pairs: mean softplus(l[10+y] - l[y]).

    Args:
      fake_logits: float32 [B, 20] of D on G(z, y).
      asked_labels: int32 [B] in 0..9 (the y).
    Returns:
      float32 scalar > 0; the other digits' logits do not enter it.
    """
    real_logit = tf.gather(fake_logits, asked_labels, batch_dims=1)
    fake_logit = tf.gather(fake_logits, asked_labels + contract.NUM_CLASSES, batch_dims=1)
    return tf.reduce_mean(tf.nn.softplus(fake_logit - real_logit))


class TwoK(Objective):
    name = "2k"
    outputs = 2 * contract.NUM_CLASSES   # y: a real y, 10 + y: a generated y

    def d_loss(self, real_out, real_labels, fake_out, fake_labels):
        return discriminator_loss(real_out, real_labels, fake_out, fake_labels)

    def g_loss(self, fake_out, labels):
        return generator_loss(fake_out, labels)

    def fake_share(self, fake_out, labels):
        return share(top(fake_out) >= contract.NUM_CLASSES)


OBJECTIVE = TwoK()
