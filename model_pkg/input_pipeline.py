"""The tf.data pipeline that feeds training batches.

Only the 60,000 training digits enter here: the function takes the training
arrays alone, so the held-out test digits cannot reach a gradient.

The batch order is a pure function of (seed, step): epoch ``e`` is the
stateless shuffle of 0..N-1 under seed ``[seed, e]``, and batch ``s`` is
elements ``[s*B, (s+1)*B)`` of the concatenated epochs. A resumed run therefore
sees exactly the batches an uninterrupted run would have seen.
"""

import tensorflow as tf

from model_pkg import contract

_MAX_EPOCHS = 2**31 - 1   # "forever"; training stops by step count


def train_dataset(x_train, y_train, batch_size, seed, start_step=0, replica_rows=None):
    """Infinite dataset of training batches, starting at batch ``start_step``.

    Args:
      x_train: uint8 [N, 28, 28], pixels 0..255.
      y_train: uint8 or int [N], labels 0..9.
      replica_rows: None (one device), or (first, count, replicas) under a tf.distribute
        strategy: each global batch of ``batch_size`` is cut into ``replicas`` equal parts
        by global replica id, and this pipeline yields parts first..first+count-1 in turn
        (one per local replica; model_pkg/distribute.py).
    Yields:
      (images float32 [B, 28, 28, 1] in [-1, 1], labels int32 [B] in 0..9), B = batch_size,
      or batch_size / replicas with replica_rows.
    """
    n = int(x_train.shape[0])
    start_epoch, offset = divmod(start_step * batch_size, n)
    images = tf.constant(x_train, dtype=tf.uint8)
    labels = tf.constant(y_train, dtype=tf.int32)
    seed = tf.constant(seed, dtype=tf.int64)

    def epoch_order(epoch):
        return tf.random.experimental.stateless_shuffle(
            tf.range(n, dtype=tf.int64), seed=tf.stack([seed, epoch]))

    def gather(indices):
        batch = tf.cast(tf.gather(images, indices), tf.float32) / 127.5 - 1.0
        return tf.expand_dims(batch, -1), tf.gather(labels, indices)

    order = (tf.data.Dataset.range(start_epoch, _MAX_EPOCHS)
             .map(epoch_order)
             .unbatch()
             .skip(offset))
    # Batching indices (8 bytes each) before gathering pixels keeps the
    # per-element work tiny; the gather and scaling run in parallel and the
    # prefetch keeps batches ready ahead of the training step.
    batches = order.batch(batch_size, drop_remainder=True)
    if replica_rows is not None:
        first, count, replicas = replica_rows
        batches = batches.map(
            lambda i: tf.reshape(i, [replicas, batch_size // replicas])[first:first + count]
        ).unbatch()
    return (batches
            .map(gather, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
            .prefetch(tf.data.AUTOTUNE))


def image_spec(batch_size=None):
    """The TensorSpec of a training image batch (for tf.function signatures)."""
    return tf.TensorSpec([batch_size, *contract.IMAGE_SHAPE], tf.float32)
