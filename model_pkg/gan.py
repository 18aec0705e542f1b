"""The K+1 conditional GAN as a keras.Model with its own train_step.

Losses (the seed report's):
  D: CE(D(x_real), y_real) + CE(D(G(z, y)), FAKE_CLASS)
  G: CE(D(G(z, y)), y)
where CE is the mean sparse categorical cross-entropy over D's 11 logits.

With config.feature_matching = w > 0, G's loss gains w * FM, where FM is the
mean over digits of the mean squared difference between the average
penultimate D features of real and of generated digits of that digit
(Salimans et al. 2016, made per-digit because G is conditional).

With config.label_smoothing = s > 0, D's target for a real digit is 1 - s on
its digit and s on "fake" (one-sided label smoothing, Salimans et al. 2016).

With config.mode_seeking = m > 0, G's batch is two halves with the same
digits and independent noise, and G's loss gains m / (r + 1e-5), where r is
the mean absolute image difference of the pairs over their mean absolute noise
difference (Mao et al. 2019): G is paid for not collapsing nearby noise.

Randomness inside a step is stateless and keyed by (config.seed, step), so the
whole random state of training is the step counter, which is checkpointed.
"""

import keras
import tensorflow as tf

from model_pkg import contract, networks

# Offsets that give each random draw of a step its own stateless stream.
_D_NOISE, _D_LABELS, _G_NOISE, _G_LABELS = range(4)
_DRAWS_PER_STEP = 4


class ConditionalGAN(keras.Model):
    """Holds G, D, their optimizers and the step counter; trains one step at a time."""

    def __init__(self, config, **kwargs):
        super().__init__(name="conditional_gan", **kwargs)
        self.config = config
        self.generator = networks.build_generator(config)
        self.discriminator = networks.build_discriminator(config)
        # The EMA copy of G (config.ema_decay > 0) is what samples and exports use.
        self.ema_generator = None
        if config.ema_decay > 0:
            self.ema_generator = networks.build_generator(config)
            self.ema_generator.set_weights(self.generator.get_weights())
        # D with its penultimate features as a second output (same layers, same weights).
        features = self.discriminator.get_layer("dense_act").output
        self._d_with_features = keras.Model(self.discriminator.inputs,
                                            [self.discriminator.outputs[0], features],
                                            name="discriminator_with_features")
        self.step = self.add_weight(shape=(), dtype="int64", initializer="zeros",
                                    trainable=False, name="step")
        self._ce = keras.losses.SparseCategoricalCrossentropy(from_logits=True)

    def compile(self, d_optimizer=None, g_optimizer=None, **kwargs):
        """Adam for both nets with the config's rates unless optimizers are given."""
        super().compile(**kwargs)
        cfg = self.config
        self.d_optimizer = d_optimizer or keras.optimizers.Adam(
            cfg.d_learning_rate, beta_1=cfg.adam_beta1, beta_2=cfg.adam_beta2, name="d_adam")
        self.g_optimizer = g_optimizer or keras.optimizers.Adam(
            cfg.g_learning_rate, beta_1=cfg.adam_beta1, beta_2=cfg.adam_beta2, name="g_adam")
        # Built now so their slots exist before a checkpoint is restored into them.
        self.d_optimizer.build(self.discriminator.trainable_variables)
        self.g_optimizer.build(self.generator.trainable_variables)

    def call(self, inputs, training=False):
        """(label int32 [N], noise float32 [N,100]) -> images in [-1, 1]."""
        return self.generator(inputs, training=training)

    @property
    def inference_generator(self):
        """The generator to sample and export: the EMA copy when there is one."""
        return self.ema_generator or self.generator

    def _update_ema(self):
        decay = self.config.ema_decay
        for ema, weight in zip(self.ema_generator.weights, self.generator.weights):
            # Trainable weights are averaged; BatchNorm statistics are copied as they are.
            ema.assign(decay * ema + (1.0 - decay) * weight if weight.trainable else weight)

    def _real_loss(self, labels, logits):
        """CE on real digits; with label_smoothing s the target is 1 - s on the digit and
        s on "fake" (one-sided: generated digits keep a hard target)."""
        s = self.config.label_smoothing
        if s == 0:
            return self._ce(labels, logits)
        target = ((1.0 - s) * tf.one_hot(labels, contract.NUM_DISC_OUTPUTS) +
                  s * tf.one_hot(contract.FAKE_CLASS, contract.NUM_DISC_OUTPUTS))
        return tf.reduce_mean(tf.nn.softmax_cross_entropy_with_logits(
            target, tf.cast(logits, tf.float32)))

    def _key(self, offset):
        """Stateless seed of one draw: (config seed, step-and-draw index)."""
        return tf.stack([tf.constant(self.config.seed, tf.int64),
                         self.step * _DRAWS_PER_STEP + offset])

    def sample_inputs(self, batch):
        """Noise and labels for this step's D and G updates (stateless, reproducible)."""
        out = {}
        for name, noise_off, label_off in (("d", _D_NOISE, _D_LABELS), ("g", _G_NOISE, _G_LABELS)):
            noise = tf.random.stateless_normal(
                [batch, contract.NOISE_DIM], seed=self._key(noise_off))
            labels = tf.random.stateless_uniform(
                [batch], seed=self._key(label_off),
                minval=0, maxval=contract.NUM_CLASSES, dtype=tf.int32)
            out[name] = (labels, noise)
        return out

    def train_step(self, data):
        """One D update then one G update on a batch of real digits.

        Args:
          data: (images float32 [B,28,28,1] in [-1,1], labels int32 [B] in 0..9).
        Returns:
          dict of scalar tensors: d_loss, g_loss, d_real_accuracy, fake_share.
        """
        real_images, real_labels = data
        batch = tf.shape(real_images)[0]
        draws = self.sample_inputs(batch)
        fake_class = tf.fill([batch], contract.FAKE_CLASS)

        fake_images = self.generator(draws["d"], training=True)
        with tf.GradientTape() as tape:
            # Real and fake go through D as separate batches so each BatchNorm
            # sees one kind only (a common GAN stabiliser; see README).
            real_logits, real_features = self._d_with_features(real_images, training=True)
            fake_logits = self.discriminator(fake_images, training=True)
            d_loss = self._real_loss(real_labels, real_logits) + self._ce(fake_class, fake_logits)
        d_vars = self.discriminator.trainable_variables
        self.d_optimizer.apply(tape.gradient(d_loss, d_vars), d_vars)

        g_loss = self._generator_step(draws["g"], batch, real_features, real_labels)
        if self.ema_generator is not None:
            self._update_ema()
        self.step.assign_add(1)
        return {
            "d_loss": d_loss,
            "g_loss": g_loss,
            "d_real_accuracy": _accuracy(real_logits, real_labels),
            "fake_share": _accuracy(fake_logits, fake_class),
        }

    def _generator_step(self, draws, batch, real_features, real_labels):
        """One G update on fresh (labels, noise); returns G's loss (scalar)."""
        g_labels, g_noise = draws
        half = batch // 2
        if self.config.mode_seeking > 0:   # pairs (i, i + half) share a digit
            g_labels = tf.concat([g_labels[:half], g_labels[:half], g_labels[2 * half:]], 0)
        with tf.GradientTape() as tape:
            g_images = self.generator((g_labels, g_noise), training=True)
            logits, features = self._d_with_features(g_images, training=True)
            g_loss = self._ce(g_labels, logits)
            if self.config.mode_seeking > 0:
                g_loss += self.config.mode_seeking * _mode_seeking(g_images, g_noise, half)
            if self.config.feature_matching > 0:
                g_loss += self.config.feature_matching * _feature_matching(
                    tf.stop_gradient(tf.cast(real_features, tf.float32)), real_labels,
                    tf.cast(features, tf.float32), g_labels)
        g_vars = self.generator.trainable_variables
        self.g_optimizer.apply(tape.gradient(g_loss, g_vars), g_vars)
        return g_loss

    def state_variables(self):
        """Every variable a checkpoint must hold, by a unique, stable key."""
        groups = {
            "generator": self.generator.weights,
            "discriminator": self.discriminator.weights,
            "g_optimizer": self.g_optimizer.variables,
            "d_optimizer": self.d_optimizer.variables,
            "gan": [self.step],
        }
        if self.ema_generator is not None:
            groups["ema_generator"] = self.ema_generator.weights
        state = {}
        for prefix, variables in groups.items():
            for variable in variables:
                key = f"{prefix}/{variable.path}"
                if key in state:
                    raise RuntimeError(f"two variables share the checkpoint key {key!r}")
                state[key] = variable
        return state


def _feature_matching(real_features, real_labels, fake_features, fake_labels):
    """Mean over digits present in both batches of the squared gap of feature means.

    features float32 [B, F]; labels int [B] in 0..9. Returns a scalar >= 0.
    """
    def class_means(features, labels):
        one_hot = tf.one_hot(tf.cast(labels, tf.int32), contract.NUM_CLASSES)   # [B, 10]
        counts = tf.reduce_sum(one_hot, axis=0)                                  # [10]
        sums = tf.matmul(one_hot, features, transpose_a=True)                    # [10, F]
        return sums / tf.maximum(counts, 1.0)[:, None], counts > 0

    real_mean, real_seen = class_means(real_features, real_labels)
    fake_mean, fake_seen = class_means(fake_features, fake_labels)
    gap = tf.reduce_mean(tf.square(real_mean - fake_mean), axis=1)               # [10]
    both = tf.cast(tf.logical_and(real_seen, fake_seen), tf.float32)
    return tf.reduce_sum(gap * both) / tf.maximum(tf.reduce_sum(both), 1.0)


def _mode_seeking(images, noise, half):
    """1 / (r + 1e-5), r = mean |x_i - x_{i+half}| / mean |z_i - z_{i+half}| (scalar > 0)."""
    images = tf.cast(images, tf.float32)
    image_gap = tf.reduce_mean(tf.abs(images[:half] - images[half:2 * half]))
    noise_gap = tf.reduce_mean(tf.abs(noise[:half] - noise[half:2 * half]))
    return 1.0 / (image_gap / noise_gap + 1e-5)


def _accuracy(logits, labels):
    hits = tf.equal(tf.argmax(logits, axis=-1, output_type=tf.int32), tf.cast(labels, tf.int32))
    return tf.reduce_mean(tf.cast(hits, tf.float32))
