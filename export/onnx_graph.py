"""model.onnx built from the generator's weights with exact rewrites for speed.

A straight tf2onnx export of the generator is slow in ONNX Runtime: its CPU
ConvTranspose takes a per-image path that none of the Conv optimisations
(BatchNorm folding, Conv+activation fusion, the NCHWc blocked layout) reach,
and Keras 3's UpSampling2D arrives as Shape/Tile/Reshape chains. This module
writes the same function as an ONNX graph ORT runs well. Each rewrite is exact
arithmetic on the weights (only float rounding differs), tested one by one
against TensorFlow in tests/export/test_onnx_graph.py:

1. one_hot(label) @ W_label + b  ->  Gather(rows of W_label + b, label): a table
   lookup. ORT refuses label 10 and above, but reads -1 as the last row (ONNX
   counts negative indices from the end), so the Python validator stands in front.
2. inference BatchNorm after Dense/Conv -> folded into their weights and bias.
3. the Dense columns permuted from Keras' HWC order to CHW, so the reshape to
   NCHW needs no Transpose.
4. stride-1 'same' ConvTranspose -> Conv with the kernel flipped in space and
   its in/out channels swapped.
5. nearest x2 upsampling then a 3x3 'same' conv -> convs at the low resolution
   with 4x the output channels (one set per output pixel phase) then
   DepthToSpace(2): the same sums, with no upsampled tensor. Each phase reads
   only 2x2 of the 3x3 low-res taps, so the wide layer (64 -> 64 channels) is
   4 convs of 2x2 with asymmetric padding, concatenated: 4/9 of the nominal
   multiply-adds. The last layer (64 -> 1) stays one 3x3 conv (4 outputs) because
   four 1-channel convs cost more in overhead than the zeros they skip.
6. (tanh(z) + 1) / 2 -> sigmoid(2 z), the 2 folded into the last conv; it is
   already in [0, 1], so the clip goes.

Graph: Gather, Gemm, LeakyRelu, Reshape, 4 x (Conv 2x2, LeakyRelu), Concat,
DepthToSpace, Conv, Sigmoid, DepthToSpace, Reshape, in NCHW with the contract's names.
"""

import numpy as np

from model_pkg import contract

_GRID, _FILTERS = 7, 64   # the seed generator's 7x7x64 starting map


def fold_batchnorm(kernel, bias, bn_layer):
    """(kernel, bias) of a layer followed by inference BatchNorm, folded (float64).

    kernel [..., C_out] (the last axis is the output channel), bias [C_out].
    """
    gamma, beta, mean, var = (np.asarray(w, np.float64) for w in bn_layer.get_weights())
    scale = gamma / np.sqrt(var + bn_layer.epsilon)
    return kernel * scale, (bias - mean) * scale + beta


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
            full = weight[phase]
            kept = full[:, :, a:a + 2, b:b + 2]
            if not np.isclose(np.abs(full).sum(), np.abs(kept).sum(), rtol=1e-6, atol=0):
                raise ValueError("phase kernel has taps outside its 2x2 window")
            out.append((np.ascontiguousarray(kept), bias[phase], [1 - a, 1 - b, a, b]))
    return out


def generator_weights(generator):
    """The rewritten weights (float32) of the seed generator, by ONNX initializer name."""
    dense = [np.asarray(w, np.float64) for w in generator.get_layer("dense").get_weights()]
    kernel, bias = fold_batchnorm(dense[0], dense[1], generator.get_layer("dense_bn"))
    order = hwc_to_chw_columns(_GRID, _GRID, _FILTERS)
    kernel, bias = kernel[:, order], bias[order]
    weights = {
        "label_table": kernel[:contract.NUM_CLASSES] + bias,          # rewrite 1
        "noise_kernel": kernel[contract.NUM_CLASSES:],
    }
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
    """Raises ValueError if ``generator`` is not the seed architecture this graph mirrors."""
    expected = {"dense": (110, _GRID * _GRID * _FILTERS), "convt1": (3, 3, _FILTERS, _FILTERS),
                "convt2": (3, 3, contract.IMAGE_CHANNELS, _FILTERS)}
    for name, shape in expected.items():
        got = tuple(generator.get_layer(name).get_weights()[0].shape)
        if got != shape:
            raise ValueError(f"generator layer {name!r} has kernel {got}, expected {shape}: "
                             "export/onnx_graph.py mirrors the seed architecture only")
    if config.output_activation != "tanh":
        raise ValueError(f"output_activation {config.output_activation!r}: rewrite 6 needs tanh")


def _phase_convs(inits, name, source, target, slope):
    """Nodes of the split phase conv ``name`` (rewrite 5), replacing its 3x3 initializers."""
    from onnx import helper

    nodes, outputs = [], []
    weight, bias = inits.pop(f"{name}_w"), inits.pop(f"{name}_b")
    for p, (kernel, b, pads) in enumerate(split_phases(weight, bias, weight.shape[0] // 4)):
        inits[f"{name}_p{p}_w"], inits[f"{name}_p{p}_b"] = kernel, b
        nodes += [helper.make_node("Conv", [source, f"{name}_p{p}_w", f"{name}_p{p}_b"],
                                   [f"{name}_p{p}"], pads=pads, kernel_shape=[2, 2]),
                  helper.make_node("LeakyRelu", [f"{name}_p{p}"], [f"{name}_p{p}_act"],
                                   alpha=slope)]
        outputs.append(f"{name}_p{p}_act")
    return nodes + [helper.make_node("Concat", outputs, [target], axis=1)]


def build_model(generator, config, opset):
    """The rewritten generator as an onnx.ModelProto (inputs label, noise; output images)."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    check_seed_architecture(generator, config)
    inits = generator_weights(generator)
    inits["chw_shape"] = np.array([-1, _FILTERS, _GRID, _GRID], np.int64)
    inits["images_shape"] = np.array([-1, *contract.IMAGE_SHAPE], np.int64)
    slope = float(config.leaky_slope)
    node = helper.make_node
    nodes = [
        node("Gather", ["label_table", contract.LABEL_KEY], ["label_rows"], axis=0),
        node("Gemm", [contract.NOISE_KEY, "noise_kernel", "label_rows"], ["dense"]),
        node("LeakyRelu", ["dense"], ["dense_act"], alpha=slope),
        node("Reshape", ["dense_act", "chw_shape"], ["map7"]),
        *_phase_convs(inits, "convt1", "map7", "conv1_act", slope),
        node("DepthToSpace", ["conv1_act"], ["map14"], blocksize=2, mode="DCR"),
        node("Conv", ["map14", "convt2_w", "convt2_b"], ["conv2"], pads=[1, 1, 1, 1],
             kernel_shape=[3, 3]),
        node("Sigmoid", ["conv2"], ["ink"]),
        node("DepthToSpace", ["ink"], ["map28"], blocksize=2, mode="DCR"),
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
