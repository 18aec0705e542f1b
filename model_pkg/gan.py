"""The conditional GAN: two networks, two optimizers, one training step.

The seed's losses (TF-GAN would call them the K+1 / semi-supervised ones):
  D: CE(D(x_real), y_real) + CE(D(G(z, y)), FAKE_CLASS)
  G: CE(D(G(z', y')), y')
where CE is the mean sparse categorical cross-entropy over D's 11 logits
(digits 0..9 and "fake"); ``config.objective`` picks another head and pair
(model_pkg/objectives/). Each step is one D update, then one G update on
fresh noise and labels. The step computes one batch; model_pkg/distribute.py
turns it into a replica's share under a tf.distribute strategy.

A plain tf.Module, not a keras.Model: training is this hand-written step
(Keras' fit() would add nothing the loop uses, and a distributed loop drives
the step itself). Randomness inside a step is stateless and keyed by
(config.random_seed, step), so the whole random state of training is the step
counter, which every checkpoint holds.
"""

import functools

import keras
import tensorflow as tf

from model_pkg import contract, distribute, networks, objectives

# Offsets that give each random draw of a step its own stateless stream.
_D_NOISE, _D_LABELS, _G_NOISE, _G_LABELS = range(4)
_DRAWS_PER_STEP = 4
# The step counter's checkpoint key, as the keras.Model this class once was named it.
_STEP_KEY = "gan/conditional_gan/step"


class ConditionalGAN(tf.Module):
    """G, D, their Adam optimizers and the step counter."""

    def __init__(self, config, synchronized_bn=False):
        super().__init__(name="conditional_gan")
        self.config = config
        self.objective = objectives.get(config.objective)
        # synchronized_bn: under a strategy of several replicas (networks._bn says why).
        self.generator = networks.build_generator(config, synchronized_bn)
        self.discriminator = networks.build_discriminator(config, synchronized_bn)
        self.d_optimizer = keras.optimizers.Adam(
            config.d_learning_rate, beta_1=config.adam_beta1, beta_2=config.adam_beta2,
            name="d_adam")
        self.g_optimizer = keras.optimizers.Adam(
            config.g_learning_rate, beta_1=config.adam_beta1, beta_2=config.adam_beta2,
            name="g_adam")
        # Built now so their slots exist before a checkpoint is restored into them.
        self.d_optimizer.build(self.discriminator.trainable_variables)
        self.g_optimizer.build(self.generator.trainable_variables)
        self.step = tf.Variable(0, dtype=tf.int64, trainable=False, name="step")

    def train_step(self, data):
        """One D update, then one G update (the objective's losses, model_pkg/objectives/).

        Args:
          data: (images float32 [B,28,28,1] in [-1, 1], labels int32 [B] in 0..9).
        Returns:
          {"d_loss", "g_loss", "d_real_accuracy", "fake_share"}: float32 scalars.
        """
        metrics = self.update(data)
        self.step.assign_add(1)
        return metrics

    def update(self, data):
        """train_step without the step increment; under a tf.distribute strategy it runs
        once per replica, on that replica's rows (strategy.run; model_pkg/distribute.py).

        Every loss is the objective's batch mean; distribute.share_of_global_mean makes it
        this replica's share of the global batch's mean (on one device: the mean itself,
        exactly as Keras reduces it), and distribute.global_loss_checked sums the shares and
        refuses a NaN or Inf before the update is applied.
        """
        real_images, real_labels = data
        (d_labels, d_noise), (g_labels, g_noise) = self.sample_inputs(tf.shape(real_images)[0])
        G, D = self.generator, self._critic   # noqa: N806 - the papers' names
        objective = self.objective

        fake_images = G((d_labels, d_noise), training=True)
        with tf.GradientTape() as tape:
            # Real and generated digits pass D as separate batches, so each
            # BatchNorm batch holds one kind only (a common GAN stabiliser).
            real_out = D(real_images, real_labels)
            fake_out = D(fake_images, d_labels)
            d_loss = distribute.share_of_global_mean(
                objective.d_loss(real_out, real_labels, fake_out, d_labels))
        d_vars = self.discriminator.trainable_variables
        d_grads = tape.gradient(d_loss, d_vars)
        d_loss = distribute.global_loss_checked(d_loss, "d_loss")
        with tf.control_dependencies([d_loss]):   # never apply a step whose loss is NaN/Inf
            self.d_optimizer.apply(d_grads, d_vars)

        with tf.GradientTape() as tape:
            g_loss = distribute.share_of_global_mean(
                objective.g_loss(D(G((g_labels, g_noise), training=True), g_labels), g_labels))
        g_grads = tape.gradient(g_loss, G.trainable_variables)
        g_loss = distribute.global_loss_checked(g_loss, "g_loss")
        with tf.control_dependencies([g_loss]):
            self.g_optimizer.apply(g_grads, G.trainable_variables)
        return {"d_loss": d_loss, "g_loss": g_loss,
                "d_real_accuracy": objective.real_accuracy(real_out, real_labels),
                "fake_share": objective.fake_share(fake_out, d_labels)}

    def _critic(self, images, labels):
        """D in training mode on images (and their labels, when D is conditional)."""
        if self.objective.conditional:
            return self.discriminator((images, labels), training=True)
        return self.discriminator(images, training=True)

    def sample_inputs(self, batch):
        """((labels int32 [B], noise float32 [B,100]) for D's step, the same for G's).

        Drawn statelessly, keyed by (config.random_seed, step). Under a strategy each replica gets
        its own B rows of the global batch's draw (distribute.own_rows): replicas draw
        different noise, together exactly one device's at the global batch.
        """
        return [distribute.own_rows(functools.partial(self._draw, *offsets), batch)
                for offsets in ((_D_NOISE, _D_LABELS), (_G_NOISE, _G_LABELS))]

    def _draw(self, noise_offset, label_offset, rows):
        """(labels int32 [rows] in 0..9, noise float32 [rows, 100]): one stateless draw."""
        noise = tf.random.stateless_normal([rows, contract.NOISE_DIM],
                                           seed=self._key(noise_offset))
        labels = tf.random.stateless_uniform([rows], seed=self._key(label_offset), minval=0,
                                             maxval=contract.NUM_CLASSES, dtype=tf.int32)
        return labels, noise

    def _key(self, offset):
        """Stateless seed of one draw: (config.random_seed, step-and-draw index)."""
        return tf.stack([tf.constant(self.config.random_seed, tf.int64),
                         self.step * _DRAWS_PER_STEP + offset])

    def state_variables(self):
        """Every variable a checkpoint must hold, by a unique, stable key."""
        groups = {"generator": self.generator.weights,
                  "discriminator": self.discriminator.weights,
                  "g_optimizer": self.g_optimizer.variables,
                  "d_optimizer": self.d_optimizer.variables}
        state = {_STEP_KEY: self.step}
        for prefix, variables in groups.items():
            for variable in variables:
                key = f"{prefix}/{variable.path}"
                if key in state:
                    raise RuntimeError(f"two variables share the checkpoint key {key!r}")
                state[key] = variable
        return state


def build_gan(config, strategy=None):
    """Seeds every RNG from config.random_seed and builds the GAN (under ``strategy``'s scope, with
    synchronized BatchNorm when it has several replicas; networks._bn says why)."""
    keras.utils.set_random_seed(config.random_seed)
    tf.config.experimental.enable_op_determinism()
    if strategy is None:
        return ConditionalGAN(config)
    distribute.check_batch(config.batch_size, strategy.num_replicas_in_sync)
    with strategy.scope():
        return ConditionalGAN(config, synchronized_bn=strategy.num_replicas_in_sync > 1)
