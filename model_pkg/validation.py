"""The one input validator in front of every Python runtime (NumPy only).

ONNX Runtime runs no asserts: model.onnx refuses bad labels, ranks and shapes
by its own Reshape checks (export/onnx_graph.py), but answers NaN or Inf noise
with NaN pixels and names the rule only in a node name, so every Python runtime
validates here first, with a message naming the input and the rule. The
SavedModel graph enforces the same rules with tf.debugging asserts
(export/signature.py), so TF Serving refuses what this refuses.
"""

import numpy as np

from model_pkg import contract


class InputError(ValueError):
    """A request input breaks the contract. ``.input_name`` and ``.rule`` say how."""

    def __init__(self, input_name, rule, detail=""):
        self.input_name, self.rule = input_name, rule
        super().__init__(f"{input_name}: {rule}" + (f" ({detail})" if detail else ""))


LABEL_RULE = (f"must be integers in {contract.LABEL_MIN}..{contract.LABEL_MAX}, "
              f"shape [N] with N >= 1")
NOISE_RULE = (f"must be finite floats of shape [N, {contract.NOISE_DIM}] "
              f"with the same N as {contract.LABEL_KEY}")


def validate_inputs(label, noise, max_batch=None):
    """Checks (label, noise) against the contract and returns them in its dtypes.

    Args:
      label: integer array-like [N], values 0..9 (any integer dtype; not bool/float).
      noise: float array-like [N, 100], finite (any real float dtype).
      max_batch: optional upper bound on N.
    Returns:
      (int32 [N], float32 [N, 100]) as new contiguous arrays.
    Raises:
      InputError naming the input and the rule it breaks.
    """
    label = _as_array(contract.LABEL_KEY, label)
    noise = _as_array(contract.NOISE_KEY, noise)
    if label.ndim != 1:
        raise InputError(contract.LABEL_KEY, LABEL_RULE, f"got shape {list(label.shape)}")
    n = label.shape[0]
    if n < 1:   # before the dtype: np.asarray([]) is float64
        raise InputError(contract.LABEL_KEY, LABEL_RULE, "got N = 0")
    if label.dtype.kind not in "iu":
        raise InputError(contract.LABEL_KEY, LABEL_RULE, f"got dtype {label.dtype}")
    if max_batch is not None and n > max_batch:
        raise InputError(contract.LABEL_KEY, f"batch size N must be <= {max_batch}",
                         f"got N = {n}")
    bad = np.flatnonzero((label < contract.LABEL_MIN) | (label > contract.LABEL_MAX))
    if bad.size:
        raise InputError(contract.LABEL_KEY, LABEL_RULE,
                         f"got {label[bad[0]]} at index {bad[0]}")
    if noise.dtype.kind != "f":
        raise InputError(contract.NOISE_KEY, NOISE_RULE, f"got dtype {noise.dtype}")
    if noise.ndim != 2 or noise.shape[1] != contract.NOISE_DIM or noise.shape[0] != n:
        raise InputError(contract.NOISE_KEY, NOISE_RULE,
                         f"got shape {list(noise.shape)} for N = {n}")
    with np.errstate(over="ignore"):   # overflow becomes inf, refused just below
        noise32 = np.ascontiguousarray(noise, dtype=np.float32)
    if not np.isfinite(noise32).all():   # checked after the cast: 1e39 -> inf in float32
        row = int(np.argwhere(~np.isfinite(noise32))[0][0])
        raise InputError(contract.NOISE_KEY, NOISE_RULE, f"non-finite value in row {row}")
    return np.ascontiguousarray(label, dtype=np.int32), noise32


def _as_array(name, value):
    try:
        array = np.asarray(value)
    except (ValueError, TypeError) as err:   # ragged lists and the like
        raise InputError(name, "must be a rectangular numeric array", str(err)) from err
    if array.dtype.kind not in "iuf":
        raise InputError(name, LABEL_RULE if name == contract.LABEL_KEY else NOISE_RULE,
                         f"got dtype {array.dtype}")
    return array


def validate_request(inputs, signature_name=contract.SIGNATURE_NAME, max_batch=None):
    """Checks a whole request ({name: value} and a signature name) as a server would.

    Returns (int32 [N], float32 [N, 100]); raises InputError naming what is wrong:
    an unknown signature, a missing input, an extra input, or any rule above.
    """
    if signature_name != contract.SIGNATURE_NAME:
        raise InputError("signature_name", f"must be {contract.SIGNATURE_NAME!r}",
                         f"got {signature_name!r}")
    expected = (contract.LABEL_KEY, contract.NOISE_KEY)
    missing = [name for name in expected if name not in inputs]
    if missing:
        raise InputError(missing[0], "is a required input", f"inputs given: {sorted(inputs)}")
    extra = sorted(set(inputs) - set(expected))
    if extra:
        raise InputError(extra[0], f"is not an input of {contract.SIGNATURE_NAME}; "
                         f"the inputs are {list(expected)}")
    return validate_inputs(inputs[contract.LABEL_KEY], inputs[contract.NOISE_KEY], max_batch)
