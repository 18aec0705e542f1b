"""The conditional GAN: two networks, two optimizers, one training step.

The seed's losses (TF-GAN would call them the K+1 / semi-supervised ones):
  D: CE(D(x_real), y_real) + CE(D(G(z, y)), FAKE_CLASS)
  G: CE(D(G(z', y')), y')
where CE is the mean sparse categorical cross-entropy over D's 11 logits
(digits 0..9 and "fake"); ``config.objective`` picks another pair
(model_pkg/losses.py). Each step is one D update, then one G update on
fresh noise and labels.

A plain tf.Module, not a keras.Model: training is this hand-written step
(Keras' fit() would add nothing the loop uses, and a distributed loop drives
the step itself). Randomness inside a step is stateless and keyed by
(config.seed, step), so the whole random state of training is the step
counter, which every checkpoint holds.
"""

import keras
import tensorflow as tf

from model_pkg import contract, losses, networks

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
        self.objective = losses.Objective(config.objective)
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
        """One D update, then one G update (model_pkg/losses.py has the losses).

        Args:
          data: (images float32 [B,28,28,1] in [-1, 1], labels int32 [B] in 0..9).
        Returns:
          {"d_loss", "g_loss", "d_real_accuracy", "fake_share"}: float32 scalars.
        """
        metrics = self.update(data)
        self.step.assign_add(1)
        return metrics

    def update(self, data, replicas=1):
        """train_step without the step increment; under a tf.distribute strategy it runs
        once per replica (``replicas`` = num_replicas_in_sync; model_pkg/distribute.py).

        On one device (replicas=1) every loss is the objective's batch mean, exactly as
        Keras reduces it. Under a strategy each replica's mean is multiplied by
        per-replica batch / global batch (= 1 / replicas: the batches are equal), so
        the optimizer's all-reduce SUM of the gradients is the gradient of the global
        batch's mean, as on one device at the same global batch.
        """
        real_images, real_labels = data
        (d_labels, d_noise), (g_labels, g_noise) = self.sample_inputs(tf.shape(real_images)[0],
                                                                      replicas)
        G, D = self.generator, self._critic   # noqa: N806 - the papers' names
        objective = self.objective

        fake_images = G((d_labels, d_noise), training=True)
        with tf.GradientTape() as tape:
            # Real and generated digits pass D as separate batches, so each
            # BatchNorm batch holds one kind only (a common GAN stabiliser).
            real_out = D(real_images, real_labels)
            fake_out = D(fake_images, d_labels)
            d_loss = _scaled(objective.d_loss(real_out, real_labels, fake_out, d_labels),
                             replicas)
        d_vars = self.discriminator.trainable_variables
        d_grads = tape.gradient(d_loss, d_vars)
        d_loss = _global_finite(d_loss, "d_loss", replicas)
        with tf.control_dependencies([d_loss]):   # never apply a step whose loss is NaN/Inf
            self.d_optimizer.apply(d_grads, d_vars)

        with tf.GradientTape() as tape:
            g_loss = _scaled(objective.g_loss(D(G((g_labels, g_noise), training=True),
                                                g_labels), g_labels), replicas)
        g_grads = tape.gradient(g_loss, G.trainable_variables)
        g_loss = _global_finite(g_loss, "g_loss", replicas)
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

    def sample_inputs(self, batch, replicas=1):
        """((labels int32 [B], noise float32 [B,100]) for D's step, the same for G's).

        Under a strategy (replicas > 1) each replica draws the global batch's rows with the
        one-device key and keeps its own slice, rows [id * B, (id + 1) * B) by its global
        replica id: replicas draw different noise, and together exactly the noise of one
        device at the global batch (so a distributed run follows the one-device run).
        """
        draws = []
        for noise_offset, label_offset in ((_D_NOISE, _D_LABELS), (_G_NOISE, _G_LABELS)):
            noise = tf.random.stateless_normal([batch * replicas, contract.NOISE_DIM],
                                               seed=self._key(noise_offset))
            labels = tf.random.stateless_uniform([batch * replicas], seed=self._key(label_offset),
                                                 minval=0, maxval=contract.NUM_CLASSES,
                                                 dtype=tf.int32)
            draws.append(_own_rows((labels, noise), batch, replicas))
        return draws

    def _key(self, offset):
        """Stateless seed of one draw: (config seed, step-and-draw index)."""
        return tf.stack([tf.constant(self.config.seed, tf.int64),
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


def _own_rows(tensors, batch, replicas):
    """This replica's rows of global-batch draws (all of them on one device)."""
    if replicas == 1:
        return tensors
    first = tf.distribute.get_replica_context().replica_id_in_sync_group * batch
    return tuple(t[first:first + batch] for t in tensors)


def _scaled(loss, replicas):
    """A replica's batch-mean loss as its share of the global batch's mean."""
    return loss if replicas == 1 else loss * (1.0 / replicas)


def _global_finite(loss, name, replicas):
    """The global batch's loss (summed over replicas), checked finite: a NaN or Inf raises
    InvalidArgumentError naming ``name`` before any update is applied."""
    if replicas > 1:
        loss = tf.distribute.get_replica_context().all_reduce(tf.distribute.ReduceOp.SUM, loss)
    return tf.debugging.check_numerics(loss, f"non-finite {name}")
