"""The one factory of serving functions, with named TensorSpecs from the contract.

Both artifacts come from ``make_serving_fn``: the SavedModel with the
in-graph checks (so TF Serving answers INVALID_ARGUMENT / HTTP 400), the ONNX
graph without them (ONNX drops asserts; the Python validator stands in front).
"""

import tensorflow as tf

from model_pkg import contract
from model_pkg.validation import LABEL_RULE, NOISE_RULE


def serving_specs():
    """[label int32 [None], noise float32 [None, 100]], named as in the contract."""
    return [tf.TensorSpec([None], tf.int32, name=contract.LABEL_KEY),
            tf.TensorSpec([None, contract.NOISE_DIM], tf.float32, name=contract.NOISE_KEY)]


def to_contract_range(images):
    """tanh output in [-1, 1] -> ink in [0, 1]; the clip pins the bounds exactly."""
    return tf.clip_by_value((images + 1.0) * 0.5, contract.PIXEL_MIN, contract.PIXEL_MAX)


def input_checks(label, noise):
    """tf.debugging asserts for every contract rule a graph can see."""
    n = tf.shape(label)[0]
    lbl, nz = contract.LABEL_KEY, contract.NOISE_KEY
    return [
        tf.debugging.assert_greater(n, 0, message=f"{lbl}: {LABEL_RULE} (got N = 0)"),
        tf.debugging.assert_equal(tf.shape(noise)[0], n, message=f"{nz}: {NOISE_RULE}"),
        tf.debugging.assert_equal(tf.shape(noise)[1], contract.NOISE_DIM,
                                  message=f"{nz}: {NOISE_RULE}"),
        tf.debugging.assert_greater_equal(label, contract.LABEL_MIN,
                                          message=f"{lbl}: {LABEL_RULE}"),
        tf.debugging.assert_less_equal(label, contract.LABEL_MAX,
                                       message=f"{lbl}: {LABEL_RULE}"),
        tf.debugging.assert_all_finite(noise, message=f"{nz}: {NOISE_RULE}"),
    ]


def make_serving_fn(generator, checks=True):
    """A tf.function (label, noise) -> {"images": float32 [N,28,28,1] in [0, 1]}.

    BatchNorm runs in inference mode (moving statistics), as in every runtime.
    """
    def serve(label, noise):
        if checks:
            with tf.control_dependencies(input_checks(label, noise)):
                label, noise = tf.identity(label), tf.identity(noise)
        images = generator([label, noise], training=False)
        return {contract.IMAGES_KEY: to_contract_range(images)}

    return tf.function(serve, input_signature=serving_specs())
