"""model.onnx built from the generator's weights with exact rewrites for speed.

A straight tf2onnx export of the generator is slow in ONNX Runtime: its CPU
ConvTranspose takes a per-image path that none of the Conv optimisations
(BatchNorm folding, Conv+activation fusion, the NCHWc blocked layout) reach,
and Keras 3's UpSampling2D arrives as Shape/Tile/Reshape chains. This module
writes the same function as an ONNX graph ORT runs well. Each rewrite is exact
arithmetic on the weights (only float rounding differs), tested one by one
against TensorFlow in tests/export/test_onnx_graph.py:

1. one_hot(label) @ W_label + b  ->  Gather(rows of W_label + b, label): a table
   lookup, of a label checked first (onnx_input_checks.py): ONNX counts negative
   indices from the end, so the lookup alone would draw a 9 for label -1.
2. inference BatchNorm after Dense/Conv -> folded into their weights and bias; a
   class-conditional one (config.g_conditional_bn) folds its fixed normalisation and
   keeps gamma[label], beta[label] as lookups, a Mul and an Add (onnx_label_norm.py).
3. the Dense columns permuted from Keras' HWC order to CHW, so the reshape to
   NCHW needs no Transpose.
4. stride-1 'same' ConvTranspose -> Conv with the kernel flipped in space and
   its in/out channels swapped.
5. nearest x2 upsampling then a 3x3 'same' conv -> convs at the low resolution
   with four times the output channels (one set per output pixel phase): the same sums,
   with no upsampled tensor. Each phase reads only 2x2 of the 3x3 low-res taps,
   so the wide layer (64 -> 64 channels) is 4 convs of 2x2 with asymmetric
   padding: 4/9 of the nominal multiply-adds, and 4 phase maps of 7x7.
6. (tanh(z) + 1) / 2 -> sigmoid(2 z), the 2 folded into the last conv; it is
   already in [0, 1], so the clip goes.
7. the 14x14 map is never assembled: the last layer (rewrite 5 again, 64 -> 4
   phases of 1 channel) reads the 4 phase maps directly, one 2x2 conv each
   (16 output channels: the 4x4 output pixels each 7x7 position stands for),
   summed, then one DepthToSpace(4): the DepthToSpace(2) of the 64-channel map and
   the 4-channel conv on 14x14 were the profile's largest items (docs/speed.md);
   the 16-channel convs fill ORT's NCHWc blocks.

Before rewrite 1, the checks ONNX can hold (it has no assert; each is a Reshape
that fails unless the input is good): labels outside 0..9, negative ones too,
N = 0, label and noise of different N; ORT checks the ranks and the 100 itself. Then the noise
is bounded as in the SavedModel (contract.NOISE_CLIP per value, NOISE_NORM_CLIP per
row). NaN or Inf noise gives NaN pixels in its row (docs/embedding.md).

Graph: the checks (3 Reshapes and a few integer ops on [N] or [1]), the noise bound
(Sub, Clip, Add, ReduceSumSquare, Sqrt, Div, Min, Mul), Gather,
Gemm, LeakyRelu, Reshape, 4 x (Conv 2x2, LeakyRelu), 4 x Conv 2x2, 3 x Add,
Sigmoid, DepthToSpace, Reshape, in NCHW with the contract's names.
Multiply-adds per image: Gemm 313,600, phase convs 3,211,264, last convs 802,816.
"""

import numpy as np

from model_pkg import contract
from model_pkg.export import onnx_input_checks as input_checks
from model_pkg.export import onnx_label_norm as label_norm

_GRID = 7   # the seed generator's 7x7 starting map; its channels are read from the weights


def fold_batchnorm(kernel, bias, bn_layer):
    """(kernel, bias) of a layer followed by inference BatchNorm, folded (float64).

    kernel [..., C_out] (the last axis is the output channel), bias [C_out]. A
    ConditionalBatchNorm folds its fixed normalisation only (export/onnx_label_norm.py).
    """
    scale, shift = label_norm.fixed_affine(bn_layer)
    return kernel * scale, bias * scale + shift


def hwc_to_chw_columns(height, width, channels):
    """Column order that turns a Dense output laid out HWC into CHW."""
    h, w, c = np.meshgrid(np.arange(height), np.arange(width), np.arange(channels),
                          indexing="ij")
    old = (h * width * channels + w * channels + c)          # index in Keras' layout
    return old.transpose(2, 0, 1).reshape(-1)                 # read in (c, h, w) order


def transpose_conv_as_conv(kernel):
    """Keras Conv2DTranspose kernel [kh, kw, out, in] (stride 1, 'same', odd k)
    -> the equivalent cross-correlation kernel HWIO [kh, kw, in, out]."""
    return np.transpose(kernel[::-1, ::-1], (0, 1, 3, 2))


def upsample_conv_as_phases(kernel):
    """Nearest x2 upsample then 3x3 'same' conv (HWIO [3, 3, I, O]) -> a 3x3 conv
    HWIO [3, 3, I, 4 O] on the low-res input whose channel (2a + b) * O + o is the
    output pixel (2i + a, 2j + b) of channel o, i.e. DepthToSpace(2, 'DCR') order.

    Output row 2i + a, tap ky reads upsampled row 2i + a + ky - 1, which is
    low-res row i + (a + ky - 1) // 2: offsets (-1, 0, 0) for a = 0 and
    (0, 0, 1) for a = 1. Taps landing on the same low-res row are summed.
    """
    kh, kw, cin, cout = kernel.shape
    if (kh, kw) != (3, 3):
        raise ValueError(f"kernel {kernel.shape}: the phase rewrite is for 3x3 kernels")
    out = np.zeros((3, 3, cin, 4 * cout), np.float64)
    for a in (0, 1):
        for b in (0, 1):
            phase = (2 * a + b) * cout
            for ky in range(3):
                for kx in range(3):
                    dy, dx = (a + ky - 1) // 2, (b + kx - 1) // 2
                    out[dy + 1, dx + 1, :, phase:phase + cout] += kernel[ky, kx]
    return out


def split_phases(weight, bias, cout):
    """OIHW phase kernel [4 O, I, 3, 3] -> [(2x2 kernel, bias, ONNX pads)] per phase.

    Phase (a, b) reads low-res offsets {-1, 0} (a = 0) or {0, 1} (a = 1) only;
    the taps left out must be zero, which is checked.
    """
    out = []
    for a in (0, 1):
        for b in (0, 1):
            phase = slice((2 * a + b) * cout, (2 * a + b + 1) * cout)
            kept = _window_2x2(weight[phase], a, b, "phase kernel")
            out.append((kept, bias[phase], [1 - a, 1 - b, a, b]))
    return out


def _window_2x2(full, row, col, what):
    """Taps [row:row + 2, col:col + 2] of the 3x3 kernel ``full`` [..., 3, 3], contiguous;
    ValueError naming ``what`` if a tap outside that window is not zero."""
    kept = full[..., row:row + 2, col:col + 2]
    if not np.isclose(np.abs(full).sum(), np.abs(kept).sum(), rtol=1e-6, atol=0):
        raise ValueError(f"{what} has taps outside its 2x2 window")
    return np.ascontiguousarray(kept)


def last_conv_on_phases(weight, bias):
    """The 3x3 'same' conv (OIHW [4 F, C, 3, 3], output channel (2c + d) F + f the
    pixel phase (c, d) of DepthToSpace(2)) applied to the map that DepthToSpace(2)
    would assemble from 4 phase maps (C channels each, phase 2a + b)
    -> [(2x2 kernel [16 F, C, 2, 2], ONNX pads)] per input phase, and the bias [16 F].

    Summed over the input phases, the convs give at low resolution the output
    channel (4 r + s) F + f of pixel (4i + r, 4j + s), DepthToSpace(4, 'DCR') order.
    Output row 2(2i + a') + c, tap ky reads the doubled row 2i + a' + ky - 1: phase
    (a' + ky - 1) % 2 at low-res offset (a' + ky - 1) // 2, so phase 0 is read at
    offsets {0, 1} and phase 1 at {-1, 0}: a 2x2 window each, which is checked.
    """
    cout, cin = weight.shape[:2]
    per = cout // 4
    full = np.zeros((4, 16 * per, cin, 3, 3), np.float64)
    merged_bias = np.zeros(16 * per, np.float64)
    for a2, b2, c, d, f in np.ndindex(2, 2, 2, 2, per):
        q, n = (2 * c + d) * per + f, ((2 * a2 + c) * 4 + 2 * b2 + d) * per + f
        merged_bias[n] = bias[q]
        for ky, kx in np.ndindex(3, 3):
            (dy, a), (dx, b) = divmod(a2 + ky - 1, 2), divmod(b2 + kx - 1, 2)
            full[2 * a + b, n, :, dy + 1, dx + 1] += weight[q, :, ky, kx]
    out = [(_window_2x2(full[2 * a + b], 1 - a, 1 - b, "input phase"), [a, b, 1 - a, 1 - b])
           for a, b in np.ndindex(2, 2)]
    return out, merged_bias


def map_filters(generator):
    """F, the channels of the generator's 7x7 map (config.g_filters): convt1's outputs."""
    return int(generator.get_layer("convt1").get_weights()[0].shape[2])


def generator_weights(generator):
    """The rewritten weights (float32) of the seed generator, by ONNX initializer name."""
    dense = [np.asarray(w, np.float64) for w in generator.get_layer("dense").get_weights()]
    kernel, bias = fold_batchnorm(dense[0], dense[1], generator.get_layer("dense_bn"))
    order = hwc_to_chw_columns(_GRID, _GRID, map_filters(generator))
    kernel, bias = kernel[:, order], bias[order]
    weights = {
        "label_table": kernel[:contract.NUM_CLASSES] + bias,          # rewrite 1
        "noise_kernel": kernel[contract.NUM_CLASSES:],
    }
    for name, columns in (("dense_bn", order), ("convt1_bn", None)):  # conditional BN only
        label_norm.add_tables(weights, name,
                              label_norm.label_tables(generator.get_layer(name), columns))
    for name, bn_name, scale in (("convt1", "convt1_bn", 1.0), ("convt2", None, 2.0)):
        k, b = (np.asarray(w, np.float64) for w in generator.get_layer(name).get_weights())
        k = transpose_conv_as_conv(k)                                    # rewrite 4
        if bn_name:
            k, b = fold_batchnorm(k, b, generator.get_layer(bn_name))   # rewrite 2
        k = upsample_conv_as_phases(k) * scale                          # rewrites 5, 6
        weights[f"{name}_w"] = np.transpose(k, (3, 2, 0, 1))            # HWIO -> OIHW
        weights[f"{name}_b"] = np.tile(b, 4) * scale
    return {name: value.astype(np.float32) for name, value in weights.items()}


def check_seed_architecture(generator, config):
    """Raises ValueError if ``generator`` is not the seed architecture this graph mirrors
    (any width F of the 7x7 map: every rewrite reads its shapes from the weights)."""
    def fail(what):
        raise ValueError(f"{what}: export/onnx_graph.py mirrors the seed architecture only")

    layers = {layer.name: layer for layer in generator.layers}
    cells = _GRID * _GRID
    filters = max(1, layers["dense"].units // cells) if "dense" in layers else 1
    for name, shape in {"dense": (110, cells * filters), "convt1": (3, 3, filters, filters),
                        "convt2": (3, 3, contract.IMAGE_CHANNELS, filters)}.items():
        got = tuple(layers[name].get_weights()[0].shape) if name in layers else None
        if got != shape:
            fail(f"generator layer {name!r} has kernel {got}, expected {shape}")
    for name in ("dense_bn", "convt1_bn"):   # rewrite 2 folds the fixed normalisation
        if name not in layers:
            fail(f"generator layer {name!r} is missing")
        problem = label_norm.check_foldable(layers[name], name)
        if problem:
            fail(problem)
    if config.output_activation != "tanh":
        raise ValueError(f"output_activation {config.output_activation!r}: rewrite 6 needs tanh")


def supports(generator, config):
    """(True, why) if build_model can rewrite ``generator``, else (False, why not): the
    exporter then converts it with tf2onnx (export/artifacts.py write_onnx)."""
    try:
        check_seed_architecture(generator, config)
    except ValueError as error:
        return False, str(error)
    kind = ("class-conditional" if label_norm.is_conditional(generator.get_layer("dense_bn"))
            else "plain")
    return True, (f"the seed architecture (7x7x{map_filters(generator)} map, {kind} "
                  "BatchNorm), rewritten exactly")


def _phase_convs(inits, name, source, slope, rows=None):
    """Nodes of the split phase conv ``name`` (rewrite 5), replacing its 3x3 initializers,
    and the names of its 4 phase maps; ``rows``: (gamma, beta) rows of a conditional BN,
    applied to each phase map before the activation."""
    from onnx import helper

    nodes, outputs = [], []
    weight, bias = inits.pop(f"{name}_w"), inits.pop(f"{name}_b")
    for p, (kernel, b, pads) in enumerate(split_phases(weight, bias, weight.shape[0] // 4)):
        inits[f"{name}_p{p}_w"], inits[f"{name}_p{p}_b"] = kernel, b
        conv = f"{name}_p{p}"
        nodes.append(helper.make_node("Conv", [source, f"{conv}_w", f"{conv}_b"], [conv],
                                      pads=pads, kernel_shape=[2, 2]))
        if rows:
            nodes += label_norm.affine_nodes(conv, *rows, f"{conv}_cbn")
            conv = f"{conv}_cbn"
        nodes.append(helper.make_node("LeakyRelu", [conv], [f"{name}_p{p}_act"], alpha=slope))
        outputs.append(f"{name}_p{p}_act")
    return nodes, outputs


def _label_norm(inits, name, label, spatial):
    """(nodes, (gamma rows, beta rows)) of BatchNorm ``name`` if it is conditional (its
    tables are among ``inits``), else ([], None)."""
    if f"{name}_gamma" not in inits:
        return [], None
    nodes, gamma, beta = label_norm.row_nodes(inits, name, label, spatial)
    return nodes, (gamma, beta)


def _summed_phase_convs(inits, name, sources, target):
    """Nodes of the last conv read from the phase maps ``sources`` (rewrite 7): one 2x2
    conv per phase map (the bias on the first), each added to the sum so far; the last sum is
    ``target``."""
    from onnx import helper

    kernels, bias = last_conv_on_phases(inits.pop(f"{name}_w"), inits.pop(f"{name}_b"))
    inits[f"{name}_b"] = bias.astype(np.float32)
    nodes, total = [], None
    for p, (source, (kernel, pads)) in enumerate(zip(sources, kernels)):
        inits[f"{name}_p{p}_w"] = kernel.astype(np.float32)
        inputs = [source, f"{name}_p{p}_w"] + ([f"{name}_b"] if p == 0 else [])
        nodes.append(helper.make_node("Conv", inputs, [f"{name}_p{p}"], pads=pads,
                                      kernel_shape=[2, 2]))
        if total is None:
            total = f"{name}_p{p}"
            continue
        summed = target if p == len(sources) - 1 else f"{name}_sum{p}"
        nodes.append(helper.make_node("Add", [total, f"{name}_p{p}"], [summed]))
        total = summed
    return nodes


def build_model(generator, config, opset):
    """The rewritten generator as an onnx.ModelProto (inputs label, noise; output images)."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    check_seed_architecture(generator, config)
    inits = generator_weights(generator)
    inits["chw_shape"] = np.array([-1, map_filters(generator), _GRID, _GRID], np.int64)
    inits["images_shape"] = np.array([-1, *contract.IMAGE_SHAPE], np.int64)
    slope = float(config.leaky_slope)
    check_nodes, label_row = input_checks.input_check_nodes(inits)
    dense_rows_nodes, dense_rows = _label_norm(inits, "dense_bn", label_row, spatial=False)
    map_rows_nodes, map_rows = _label_norm(inits, "convt1_bn", label_row, spatial=True)
    phase_nodes, phase_maps = _phase_convs(inits, "convt1", "map7", slope, map_rows)
    node = helper.make_node
    dense = "dense_cbn" if dense_rows else "dense"
    nodes = [
        *check_nodes,
        node("Gather", ["label_table", label_row], ["label_rows"], axis=0),
        *input_checks.noise_clip_nodes(inits, "noise_clipped"),
        node("Gemm", ["noise_clipped", "noise_kernel", "label_rows"], ["dense"]),
        *dense_rows_nodes, *map_rows_nodes,
        *(label_norm.affine_nodes("dense", *dense_rows, dense) if dense_rows else []),
        node("LeakyRelu", [dense], ["dense_act"], alpha=slope),
        node("Reshape", ["dense_act", "chw_shape"], ["map7"]),
        *phase_nodes,
        *_summed_phase_convs(inits, "convt2", phase_maps, "conv2"),
        node("Sigmoid", ["conv2"], ["ink"]),
        node("DepthToSpace", ["ink"], ["map28"], blocksize=4, mode="DCR"),
        node("Reshape", ["map28", "images_shape"], [contract.IMAGES_KEY]),
    ]
    graph = helper.make_graph(
        nodes, "cgan_generator",
        inputs=[helper.make_tensor_value_info(contract.LABEL_KEY, TensorProto.INT32, ["N"]),
                helper.make_tensor_value_info(contract.NOISE_KEY, TensorProto.FLOAT,
                                              ["N", contract.NOISE_DIM])],
        outputs=[helper.make_tensor_value_info(contract.IMAGES_KEY, TensorProto.FLOAT,
                                               ["N", *contract.IMAGE_SHAPE])],
        initializer=[numpy_helper.from_array(value, name) for name, value in inits.items()])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)],
                              producer_name="model_pkg.export.onnx_graph")
    model.ir_version = 8   # opset 17's IR; keeps older ONNX Runtimes (web, node) able to load it
    onnx.checker.check_model(model, full_check=True)
    return model
