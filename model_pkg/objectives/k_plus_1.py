"""k_plus_1, the seed's objective (a K+1 / semi-supervised GAN; Salimans et al. 2016).

D has 11 logits: the digits 0..9 and "fake" (contract.FAKE_CLASS).
  D: CE(real -> y) + CE(generated -> fake);  G: CE(G(z, y) -> y).
At D's optimum G's loss is a GAN term plus -log p_data(y | x): it pulls each digit towards
where its class is certain, so it loses variety within a class (Shu 2017; Gong et al. 2019).
"""

import tensorflow as tf

from model_pkg import contract
from model_pkg.objectives.base import Objective, cross_entropy, share, top


def discriminator_loss(real_logits, real_labels, fake_logits):
    """Real digits to their labels, generated digits to "fake".

    Args:
      real_logits, fake_logits: float32 [B, 11] of D on real and on generated digits.
      real_labels: int32 [B] in 0..9.
    Returns:
      float32 scalar >= 0: the two batch-mean cross-entropies, summed.
    """
    fake_class = tf.fill(tf.shape(fake_logits)[:1], contract.FAKE_CLASS)
    return cross_entropy(real_labels, real_logits) + cross_entropy(fake_class, fake_logits)


def generator_loss(fake_logits, asked_labels):
    """D should read each generated digit as the digit G was asked to draw.

    Args:
      fake_logits: float32 [B, 11] of D on G(z, y).
      asked_labels: int32 [B] in 0..9 (the y).
    Returns:
      float32 scalar >= 0: the batch-mean cross-entropy.
    """
    return cross_entropy(asked_labels, fake_logits)


class KPlusOne(Objective):
    name = "k_plus_1"
    outputs = contract.NUM_DISC_OUTPUTS   # 10 digits + "fake"

    def d_loss(self, real_out, real_labels, fake_out, fake_labels):
        return discriminator_loss(real_out, real_labels, fake_out)

    def g_loss(self, fake_out, labels):
        return generator_loss(fake_out, labels)

    def fake_share(self, fake_out, labels):
        return share(tf.equal(top(fake_out), contract.FAKE_CLASS))


OBJECTIVE = KPlusOne()
