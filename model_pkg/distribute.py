"""Training on several devices or machines with TensorFlow's own engine, tf.distribute.

``model-pkg train --strategy``:
  default       no strategy: the one-device step in model_pkg/gan.py, bit for bit as before.
  mirrored      tf.distribute.MirroredStrategy over this machine's GPUs (its logical CPUs when
                it has none: tests split one CPU into two).
  multi-worker  tf.distribute.MultiWorkerMirroredStrategy over the cluster in $TF_CONFIG.

The loop drives the step itself with ``strategy.run`` and reduces with ``axis=None``, as
TensorFlow's "custom training loop with MultiWorkerMirroredStrategy" tutorial does: Keras 3's
``fit()`` does not work with MultiWorkerMirroredStrategy (keras-team/keras#20585,
tensorflow/tensorflow#72388; tests/model_pkg/distributed/test_multi_worker.py keeps a
strict xfail on it), and ``keras.distribution`` is JAX-only in practice.

What keeps the one-device promises (docs/distributed.md has the whole story):
  - The config's batch_size is the global batch; each replica gets an equal slice of every
    global batch (rows by global replica id) and draws its slice of the global batch's
    noise (own_rows), so replicas see different digits and noise, and together exactly what
    one device sees at that batch.
  - Every loss is scaled to the global batch (share_of_global_mean, global_loss_checked);
    BatchNorm statistics are all-reduced over the replicas (networks._bn); the losses are
    checked finite every step.
  - All replica arithmetic is here (own_rows, share_of_global_mean, global_loss_checked): they
    read the replica context, so the step (model_pkg/gan.py) calls them on what it and the
    objectives (model_pkg/objectives/) compute for one batch, with no replica count, and
    the same step runs on one device or under strategy.run.
  - Only the chief writes into the workdir (checkpoints stay atomic and verified); every
    worker resumes from the same newest checkpoint, whatever the worker count before.
"""

import contextlib
import json
import os
import re

STRATEGIES = ("default", "mirrored", "multi-worker")
# How long one collective may wait for a peer. A dead peer is found sooner, by the
# coordination service's heartbeats (about 10 s); this bounds a peer that hangs, and must
# exceed the chief's pauses for a checkpoint or a sample grid, during which the others wait.
COLLECTIVE_TIMEOUT_S = 300.0
_PEER = re.compile(r"/job:(\w+)/replica:\d+/task:(\d+)")


class PeerLost(RuntimeError):
    """A worker of a multi-worker run died or stopped answering."""


class NonFiniteLoss(RuntimeError):
    """A loss came out NaN or Inf: the step was stopped before it changed any weight."""


def make_strategy(name):
    """The tf.distribute strategy ``name`` means, or None for "default" (one device).

    Multi-worker must be created before any other TensorFlow op of the process (its
    collectives are configured at start-up), so train_and_evaluate calls this first.
    """
    if name not in STRATEGIES:
        raise ValueError(f"--strategy {name!r}: must be one of {STRATEGIES}")
    if name == "default":
        return None
    import tensorflow as tf

    if name == "mirrored":
        devices = tf.config.list_logical_devices("GPU") or tf.config.list_logical_devices("CPU")
        return tf.distribute.MirroredStrategy([d.name for d in devices])
    _check_tf_config()
    options = tf.distribute.experimental.CommunicationOptions(
        timeout_seconds=COLLECTIVE_TIMEOUT_S)
    return tf.distribute.MultiWorkerMirroredStrategy(communication_options=options)


def _check_tf_config():
    """Raises naming what is missing when $TF_CONFIG cannot describe this task's cluster."""
    try:
        spec = json.loads(os.environ["TF_CONFIG"])
        if spec["task"]["type"] not in spec["cluster"] or int(spec["task"]["index"]) < 0:
            raise ValueError(f"task {spec['task']} is not in the cluster {spec['cluster']}")
    except (KeyError, TypeError, ValueError) as err:
        raise ValueError("--strategy multi-worker needs $TF_CONFIG as JSON with 'cluster' and "
                         "'task' (type and index), e.g. {\"cluster\": {\"worker\": [\"host0:"
                         "2222\", \"host1:2222\"]}, \"task\": {\"type\": \"worker\", \"index\""
                         f": 0}} (docs/distributed.md); {type(err).__name__}: {err}") from None


def replicas(strategy):
    return 1 if strategy is None else strategy.num_replicas_in_sync


def is_chief(strategy):
    """Whether this process writes the workdir: one device, mirrored (one process), the
    'chief' task, or worker 0 of a cluster without a chief (TensorFlow's convention)."""
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None or not resolver.task_type:
        return True
    if resolver.task_type == "chief":
        return True
    return (resolver.task_type == "worker" and resolver.task_id == 0
            and "chief" not in resolver.cluster_spec().as_dict())


def check_batch(batch_size, count):
    """Refuses a global batch that does not split equally over ``count`` replicas."""
    if batch_size % count:
        raise ValueError(f"batch_size={batch_size} (the global batch) does not split over "
                         f"{count} replicas; use a multiple of {count}")


def distributed_batches(strategy, x_train, y_train, batch_size, seed, start_step):
    """An iterator of per-replica batches: replica r of every global batch gets rows
    [r * B/R, (r + 1) * B/R) of the one-device batch (model_pkg/input_pipeline.py).

    Each worker's pipeline reads only its own replicas' rows (an explicit shard by input
    context: the workers read different digits, the same order as one device).
    """
    from model_pkg.input_pipeline import train_dataset

    count = strategy.num_replicas_in_sync
    check_batch(batch_size, count)

    def dataset_fn(context):
        local = count // context.num_input_pipelines
        rows = (context.input_pipeline_id * local, local, count)
        return train_dataset(x_train, y_train, batch_size, seed, start_step, replica_rows=rows)

    return iter(strategy.distribute_datasets_from_function(dataset_fn))


def _replica_context():
    """The current replica context (TensorFlow's default one, of 1 replica, on one device)."""
    import tensorflow as tf

    context = tf.distribute.get_replica_context()
    if context is None:
        raise RuntimeError("a training step's replica arithmetic must run in a replica "
                           "context: on one device, or inside strategy.run")
    return context


def own_rows(draw, batch):
    """This replica's ``batch`` rows of a draw made for the global batch.

    ``draw(rows)`` returns a tuple of tensors with ``rows`` rows each; it is called for
    batch x replicas rows (with one device's random key), and replica r keeps rows
    [r * batch, (r + 1) * batch): replicas get different rows, together exactly one device's
    draw at the global batch. On one device: draw(batch), untouched.
    """
    context = _replica_context()
    count = context.num_replicas_in_sync
    tensors = draw(batch * count)
    if count == 1:
        return tensors
    first = context.replica_id_in_sync_group * batch
    return tuple(t[first:first + batch] for t in tensors)


def share_of_global_mean(loss):
    """A replica's batch-mean loss (float32 scalar) as its share of the global batch's mean:
    multiplied by per-replica batch / global batch (= 1 / replicas, the batches being equal),
    so the optimizer's all-reduce SUM of the gradients is the gradient of the global batch's
    mean, as on one device at that batch. On one device: the loss itself, untouched."""
    count = _replica_context().num_replicas_in_sync
    return loss if count == 1 else loss * (1.0 / count)


def global_loss_checked(share, name):
    """The global batch's loss: the replicas' shares summed (all-reduce), checked finite.

    A NaN or Inf raises InvalidArgumentError "non-finite ``name``" (run_step makes it a
    NonFiniteLoss) on every replica, before any update is applied. On one device: the share
    (= the loss), checked.
    """
    import tensorflow as tf

    context = _replica_context()
    if context.num_replicas_in_sync > 1:
        share = context.all_reduce(tf.distribute.ReduceOp.SUM, share)
    return tf.debugging.check_numerics(share, f"non-finite {name}")


def step_function(strategy, gan):
    """tf.function: one distributed step (ConditionalGAN.update on every replica), the
    metrics reduced over the replicas, then the step counter (cross-replica) incremented."""
    import tensorflow as tf

    @tf.function
    def step(batch):
        per_replica = strategy.run(gan.update, args=(batch,))
        # d_loss/g_loss are already global sums (equal on every replica); the shares are
        # per replica over equal batches, so their mean is the global share.
        metrics = {k: strategy.reduce(tf.distribute.ReduceOp.MEAN, v, axis=None)
                   for k, v in per_replica.items()}
        gan.step.assign_add(1)
        return metrics

    return step


def check_same_step(strategy, gan):
    """Raises unless every worker restored the same step (a workdir that is not shared
    storage would let them resume from different checkpoints)."""
    if strategy is None:
        return
    import tensorflow as tf

    def moments():
        step = tf.cast(gan.step, tf.float64)
        ctx = tf.distribute.get_replica_context()
        return ctx.all_reduce("MEAN", step), ctx.all_reduce("MEAN", step * step)

    @tf.function
    def spread():
        return [strategy.reduce("MEAN", v, axis=None) for v in strategy.run(moments)]

    mean, square = spread()
    if float(square) - float(mean) ** 2 > 1e-6:
        raise RuntimeError(f"the workers resumed from different steps (mean {float(mean)}, this "
                           f"one {int(gan.step.numpy())}): every worker must see the same "
                           "workdir (shared storage)")


def run_step(step_fn, batch, step, newest_checkpoint):
    """step_fn(batch), with TensorFlow's errors for a lost peer or a NaN loss made plain."""
    import tensorflow as tf

    try:
        with peer_errors(step, newest_checkpoint):
            return step_fn(batch)
    except tf.errors.InvalidArgumentError as err:
        found = re.search(r"non-finite (\w+)", str(err))
        if not found:
            raise
        raise NonFiniteLoss(f"step {step}: {found.group(1)} is NaN or Inf; stopped before "
                            "applying it (no weight changed). The newest checkpoint is step "
                            f"{newest_checkpoint()}.") from err


@contextlib.contextmanager
def peer_errors(step, newest_checkpoint):
    """TensorFlow's errors for a lost peer, raised anywhere in a training step's work (the
    step itself, or the eager collectives around it: a checkpoint's or a log point's
    reads), as one PeerLost naming the peers and how to resume."""
    import tensorflow as tf

    try:
        yield
    except (tf.errors.UnavailableError, tf.errors.DeadlineExceededError,
            tf.errors.AbortedError, tf.errors.CancelledError) as err:
        peers = sorted({f"{job} {task}" for job, task in _PEER.findall(str(err))})
        raise PeerLost(f"step {step}: lost contact with {', '.join(peers) or 'a peer'} of the "
                       f"multi-worker run ({type(err).__name__}). Restart every worker with the "
                       "same command: they resume from the newest checkpoint (step "
                       f"{newest_checkpoint()}).") from err
