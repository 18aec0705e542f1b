"""Rewrite 2 of export/onnx_graph.py for class-conditional BatchNorm (config.g_conditional_bn).

At inference a ConditionalBatchNorm (model_pkg/conditional_bn.py) is its inner BatchNorm's
fixed normalisation, x * s + t per channel (s = 1 / sqrt(var + eps), t = -mean * s), then
gamma[label] * . + beta[label]. The fixed part folds into the preceding layer's weights as a
plain BatchNorm does; the label's part stays in the graph as two table lookups, a Mul and an
Add on the layer's output: [N, C] rows of two [10, C] tables (the label is checked before any
lookup, as for rewrite 1), reshaped to [N, C, 1, 1] for a conv map in NCHW.
"""

import numpy as np

# BatchNorms with one gamma and beta for every row, which rewrite 2 folds into the weights.
FOLDABLE_BN = ("BatchNormalization", "FusedBatchNormalization")
CONDITIONAL_BN = "ConditionalBatchNorm"


def is_conditional(bn_layer):
    return type(bn_layer).__name__ == CONDITIONAL_BN


def check_foldable(bn_layer, name):
    """None if rewrite 2 can fold ``bn_layer`` (a plain BatchNorm, or a ConditionalBatchNorm
    over one), else what it is, for the caller's error."""
    inner = bn_layer.norm if is_conditional(bn_layer) else bn_layer
    kind = type(inner).__name__
    if kind in FOLDABLE_BN:
        return None
    return (f"generator layer {name!r} is a {type(bn_layer).__name__} over {kind}, not one of "
            f"{FOLDABLE_BN} (rewrite 2 folds a BatchNorm's fixed normalisation)")


def fixed_affine(bn_layer):
    """(scale, shift) per channel, float64: inference BatchNorm as x * scale + shift; for a
    ConditionalBatchNorm, its inner normalisation only (the label's part: label_tables)."""
    inner = bn_layer.norm if is_conditional(bn_layer) else bn_layer
    weights = [np.asarray(w, np.float64) for w in inner.get_weights()]
    if is_conditional(bn_layer):   # center=False, scale=False: only the moving statistics
        (mean, var), gamma, beta = weights, 1.0, 0.0
    else:
        gamma, beta, mean, var = weights
    scale = gamma / np.sqrt(var + inner.epsilon)
    return scale, beta - mean * scale


def label_tables(bn_layer, columns=None):
    """{"gamma": [10, C], "beta": [10, C]} float32 of a ConditionalBatchNorm (columns
    reordered by ``columns`` when given), or {} for a plain BatchNorm."""
    if not is_conditional(bn_layer):
        return {}
    tables = {"gamma": np.asarray(bn_layer.gamma), "beta": np.asarray(bn_layer.beta)}
    return {key: (value if columns is None else value[:, columns]).astype(np.float32)
            for key, value in tables.items()}


def add_tables(inits, name, tables):
    """Puts ``tables`` into the initializers as {name}_gamma, {name}_beta."""
    for key, value in tables.items():
        inits[f"{name}_{key}"] = value


def row_nodes(inits, name, label, spatial):
    """Nodes that look up ``label``'s gamma and beta rows of layer ``name``; returns (nodes,
    gamma rows, beta rows): [N, C], or [N, C, 1, 1] with ``spatial`` (NCHW maps)."""
    from onnx import helper

    nodes, rows = [], []
    for key in ("gamma", "beta"):
        table, found = f"{name}_{key}", f"{name}_{key}_rows"
        nodes.append(helper.make_node("Gather", [table, label], [found], axis=0))
        if spatial:
            inits[f"{name}_row_shape"] = np.array([-1, inits[table].shape[1], 1, 1], np.int64)
            nodes.append(helper.make_node("Reshape", [found, f"{name}_row_shape"],
                                          [f"{found}_nchw"]))
            found = f"{found}_nchw"
        rows.append(found)
    return nodes, rows[0], rows[1]


def affine_nodes(source, gamma_rows, beta_rows, target):
    """``target`` = ``source`` * gamma rows + beta rows."""
    from onnx import helper

    return [helper.make_node("Mul", [source, gamma_rows], [f"{target}_scaled"]),
            helper.make_node("Add", [f"{target}_scaled", beta_rows], [target])]
