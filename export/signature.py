"""The one factory of serving functions, with named TensorSpecs from the contract.

Both artifacts come from ``make_serving_fn``: the SavedModel with the
in-graph checks (so TF Serving answers INVALID_ARGUMENT / HTTP 400) and the
in-graph batcher, the tf2onnx graph without either (ONNX drops asserts; the
Python validator stands in front). Both bound the noise (``clip_noise``), as the
rewritten ONNX graph does (export/onnx_graph.py).

Why the batcher sits in the graph, after the checks (docs/tf_serving.md has
the numbers): TF Serving's own ``--enable_batching`` merges requests before
the graph runs and hands one status to every request of the batch
(batching/batching_session.cc, ``ProcessBatch``), so one request with label
10 would fail every good request merged with it. Here each request's checks
run in its own Session::Run, and only requests that passed them reach
TensorFlow's BatchFunction op, which merges them with the same
SharedBatchScheduler TF Serving uses.
"""

import dataclasses

import tensorflow as tf

from model_pkg import contract
from model_pkg.validation import LABEL_RULE, NOISE_RULE


@dataclasses.dataclass(frozen=True)
class Batching:
    """TensorFlow's BatchFunction op around the generator (tf.nondifferentiable_batch_function)."""

    # Batches run at once; each also uses the session's intra-op threads.
    num_batch_threads: int = 2
    # No wait for more requests: a batch forms from what queued while the
    # previous one ran (TF Serving's batching guide, "CPU-only: One Approach").
    batch_timeout_micros: int = 0
    # Batch sizes run (powers of two: padding at most doubles a batch, 9 shapes to warm up).
    # A request above the largest is split across batches by the op.
    allowed_batch_sizes: tuple = (1, 2, 4, 8, 16, 32, 64, 128, 256)
    # Queue depth in batches of up to 256 rows; past it a request gets
    # UNAVAILABLE (retryable). Holds 4 requests of the largest size at once.
    max_enqueued_batches: int = 64
    # The op's own limit on one request's rows (its max_batch_size argument,
    # with large-batch splitting on); the graph checks it first, by name.
    max_request_rows: int = contract.MAX_REQUEST_ROWS


BATCHING = Batching()


def serving_specs():
    """[label int32 [None], noise float32 [None, 100]], named as in the contract."""
    return [tf.TensorSpec([None], tf.int32, name=contract.LABEL_KEY),
            tf.TensorSpec([None, contract.NOISE_DIM], tf.float32, name=contract.NOISE_KEY)]


def to_contract_range(images):
    """tanh output in [-1, 1] -> ink in [0, 1]; the clip pins the bounds exactly."""
    return tf.clip_by_value((images + 1.0) * 0.5, contract.PIXEL_MIN, contract.PIXEL_MAX)


def runtime_shape(tensor):
    """(rank, shape followed by three -1s) of ``tensor`` as fed, opaque to grappler.

    Neither TF Serving's loader nor a tf.saved_model.load signature checks a request
    against the signature's shapes, and grappler folds Rank, Size and known dims to
    the signature's static shape, so an assert on them would pass for a scalar or
    [N, 1] label. The shape vector goes through a serialize/parse round trip (a few
    bytes), whose output shape grappler cannot know.
    """
    shape = tf.raw_ops.ParseTensor(serialized=tf.io.serialize_tensor(tf.shape(tensor)),
                                   out_type=tf.int32)
    return tf.size(shape), tf.concat([shape, [-1, -1, -1]], axis=0)


def input_checks(label, noise):
    """tf.debugging asserts for every contract rule a graph can see: ranks, then shapes,
    then values, each group waiting for the one before, so that a scalar label meets
    its rule's message and not an index or reduction error."""
    lbl, nz = contract.LABEL_KEY, contract.NOISE_KEY
    (label_rank, label_dims), (noise_rank, noise_dims) = runtime_shape(label), runtime_shape(noise)
    ranks = [tf.debugging.assert_equal(label_rank, 1, message=f"{lbl}: {LABEL_RULE} (rank)"),
             tf.debugging.assert_equal(noise_rank, 2, message=f"{nz}: {NOISE_RULE} (rank)")]
    with tf.control_dependencies(ranks):
        n = tf.identity(label_dims[0])
        shapes = [
            tf.debugging.assert_greater(n, 0, message=f"{lbl}: {LABEL_RULE} (got N = 0)"),
            tf.debugging.assert_less_equal(
                n, contract.MAX_REQUEST_ROWS,
                message=f"{lbl}: batch size N must be <= {contract.MAX_REQUEST_ROWS} per request"),
            tf.debugging.assert_equal(noise_dims[0], n, message=f"{nz}: {NOISE_RULE}"),
            tf.debugging.assert_equal(noise_dims[1], contract.NOISE_DIM,
                                      message=f"{nz}: {NOISE_RULE}"),
        ]
    with tf.control_dependencies(shapes):
        values = [
            tf.debugging.assert_greater_equal(label, contract.LABEL_MIN,
                                              message=f"{lbl}: {LABEL_RULE}"),
            tf.debugging.assert_less_equal(label, contract.LABEL_MAX,
                                           message=f"{lbl}: {LABEL_RULE}"),
            tf.debugging.assert_all_finite(noise, message=f"{nz}: {NOISE_RULE}"),
        ]
    return ranks + shapes + values


def clip_noise(noise):
    """Each value clipped to +-NOISE_CLIP, then rows longer than NOISE_NORM_CLIP scaled
    down to it (contract.py says why); export/onnx_graph.py does the same ops."""
    noise = tf.clip_by_value(noise, -contract.NOISE_CLIP, contract.NOISE_CLIP)
    norm = tf.sqrt(tf.reduce_sum(tf.square(noise), axis=1, keepdims=True))
    # A zero row gives min(1, inf) = 1: no NaN. Rows inside the bound get exactly 1.
    return noise * tf.minimum(1.0, contract.NOISE_NORM_CLIP / norm)


def _generate(generator, batching):
    """(label, noise) -> images in [0, 1]; batched across concurrent calls if ``batching``."""
    def generate(label, noise):
        return to_contract_range(generator([label, noise], training=False))

    if batching is None:
        return generate
    batched = tf.nondifferentiable_batch_function(
        batching.num_batch_threads, batching.max_request_rows, batching.batch_timeout_micros,
        list(batching.allowed_batch_sizes), batching.max_enqueued_batches,
        enable_large_batch_splitting=True)(generate)
    # BatchFunction's output has no static shape; the signature (and TF Serving's
    # metadata) should still say [N, 28, 28, 1].
    return lambda label, noise: tf.ensure_shape(batched(label, noise),
                                                [None, *contract.IMAGE_SHAPE])


def make_serving_fn(generator, checks=True, batching=None):
    """A tf.function (label, noise) -> {"images": float32 [N,28,28,1] in [0, 1]}.

    BatchNorm runs in inference mode (moving statistics), as in every runtime.
    ``batching`` (a Batching) puts the generator behind BatchFunction; the
    checks always run before it, per request.
    """
    generate = _generate(generator, batching)

    def serve(label, noise):
        if checks:
            with tf.control_dependencies(input_checks(label, noise)):
                label, noise = tf.identity(label), tf.identity(noise)
        return {contract.IMAGES_KEY: generate(label, clip_noise(noise))}

    return tf.function(serve, input_signature=serving_specs())
