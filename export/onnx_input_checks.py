"""The input checks and the noise bound at the head of export/onnx_graph.py's model.onnx.

ONNX has no assert: each check is a Reshape that fails unless the input is good (labels
outside 0..9, negative ones too, N = 0, label and noise of different N; ORT checks the ranks
and the 100 itself); its node name is the rule, which ORT's error quotes. Then the noise is
bounded as in the SavedModel (contract.NOISE_CLIP per value, NOISE_NORM_CLIP per row).
"""

import numpy as np

from model_pkg import contract
from model_pkg.validation import LABEL_RULE, NOISE_RULE


def input_check_nodes(inits):
    """Nodes that refuse what ONNX can see of a bad input; returns (nodes, checked label).

    ONNX has no assert. Each check reshapes the label to [N + k], k counting what breaks
    the rule (labels outside 0..9, N = 0, N unequal to the noise's): a Reshape to a size
    the tensor does not have fails on every execution provider, its shape being checked
    on the host (a Gather out of bounds fails on the CPU, but ORT's CUDA kernel reads
    zeros). ORT's error names the node, whose name is the rule. The label flows through
    the three to the table lookup, so no optimiser drops one and all run before the Gemm.
    """
    from onnx import TensorProto, helper

    node, lbl, nz = helper.make_node, contract.LABEL_KEY, contract.NOISE_KEY
    inits["label_min"] = np.array(contract.LABEL_MIN, np.int32)
    inits["label_max"] = np.array(contract.LABEL_MAX, np.int32)
    inits["zero_n"] = np.zeros(1, np.int64)
    count = TensorProto.INT64
    return [
        node("Shape", [lbl], ["label_n"]),
        node("Shape", [nz], ["noise_n"], start=0, end=1),
        node("Less", [lbl, "label_min"], ["label_below"]),
        node("Greater", [lbl, "label_max"], ["label_above"]),
        node("Or", ["label_below", "label_above"], ["label_outside"]),
        node("Cast", ["label_outside"], ["label_outside_n"], to=count),
        node("ReduceSum", ["label_outside_n"], ["label_bad"], keepdims=1),
        node("Add", ["label_n", "label_bad"], ["range_shape"]),
        node("Reshape", [lbl, "range_shape"], ["label_in_range"],
             name=f"{lbl}: {LABEL_RULE} (range)"),
        node("Equal", ["label_n", "zero_n"], ["label_empty"]),
        node("Cast", ["label_empty"], ["label_empty_n"], to=count),
        node("Add", ["label_n", "label_empty_n"], ["empty_shape"]),
        node("Reshape", ["label_in_range", "empty_shape"], ["label_nonempty"],
             name=f"{lbl}: {LABEL_RULE} (N = 0)"),
        node("Equal", ["label_n", "noise_n"], ["n_same"]),
        node("Not", ["n_same"], ["n_differs"]),
        node("Cast", ["n_differs"], ["n_differs_n"], to=count),
        node("Add", ["label_n", "n_differs_n"], ["same_n_shape"]),
        node("Reshape", ["label_nonempty", "same_n_shape"], ["label_checked"],
             name=f"{nz}: {NOISE_RULE} (N differs)"),
    ], "label_checked"


def noise_clip_nodes(inits, target):
    """Nodes of export/signature.py's clip_noise: each value clipped to +-NOISE_CLIP,
    then each row scaled by min(1, NOISE_NORM_CLIP / its L2 norm); result ``target``."""
    from onnx import helper

    node, nz = helper.make_node, contract.NOISE_KEY
    inits["noise_min"] = np.array(-contract.NOISE_CLIP, np.float32)
    inits["noise_max"] = np.array(contract.NOISE_CLIP, np.float32)
    inits["noise_norm_max"] = np.array(contract.NOISE_NORM_CLIP, np.float32)
    inits["one_f"] = np.array(1.0, np.float32)
    return [
        # The contract lets raw model.onnx answer NaN pixels for NaN or Inf noise, nothing
        # else: x - x is 0 for finite x and NaN for +-Inf, so Inf is not clipped into a digit.
        node("Sub", [nz, nz], ["noise_zero_or_nan"]),
        node("Clip", [nz, "noise_min", "noise_max"], ["noise_clip_only"]),
        node("Add", ["noise_clip_only", "noise_zero_or_nan"], ["noise_values_clipped"]),
        node("ReduceSumSquare", ["noise_values_clipped"], ["noise_norm2"], axes=[1],
             keepdims=1),
        node("Sqrt", ["noise_norm2"], ["noise_norm"]),
        node("Div", ["noise_norm_max", "noise_norm"], ["noise_scale_raw"]),
        node("Min", ["one_f", "noise_scale_raw"], ["noise_scale"]),
        node("Mul", ["noise_values_clipped", "noise_scale"], [target]),
    ]
