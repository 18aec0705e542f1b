"""Each exact rewrite of export/onnx_graph.py against TensorFlow, then the whole graph."""

import os

import keras
import numpy as np
import onnx
import onnxruntime as ort
import pytest
import tensorflow as tf

from model_pkg import contract, networks
from model_pkg.config import SEED
from model_pkg.export import artifacts, onnx_graph
from model_pkg.export.signature import make_serving_fn

REWRITE_ATOL = 1e-5   # per rewrite, on unit-scale activations: float32 rounding only
RNG = np.random.default_rng(11)


def _randomise_bn(layer):
    """Non-trivial BatchNorm statistics, as after training."""
    shapes = [w.shape for w in layer.get_weights()]
    gamma, beta, mean = (RNG.normal(0, 0.5, s) + (1 if i == 0 else 0) for i, s in
                         enumerate(shapes[:3]))
    layer.set_weights([gamma, beta, mean, RNG.uniform(0.2, 2.0, shapes[3])])


def test_batchnorm_folds_into_the_preceding_dense():
    x = RNG.standard_normal((16, 20)).astype(np.float32)
    dense, bn = keras.layers.Dense(12), keras.layers.BatchNormalization(epsilon=1e-3)
    bn(dense(x), training=False)   # builds both layers
    _randomise_bn(bn)
    expected = bn(dense(x), training=False).numpy()
    kernel, bias = onnx_graph.fold_batchnorm(*(np.float64(w) for w in dense.get_weights()), bn)
    np.testing.assert_allclose(x @ kernel + bias, expected, rtol=0, atol=REWRITE_ATOL)


def test_hwc_columns_reordered_to_chw():
    flat = RNG.standard_normal((3, 7 * 5 * 4))
    order = onnx_graph.hwc_to_chw_columns(7, 5, 4)
    expected = flat.reshape(3, 7, 5, 4).transpose(0, 3, 1, 2)
    np.testing.assert_array_equal(flat[:, order].reshape(3, 4, 7, 5), expected)


def test_stride1_transpose_conv_is_a_flipped_conv():
    x = RNG.standard_normal((2, 9, 9, 5)).astype(np.float32)
    layer = keras.layers.Conv2DTranspose(6, 3, padding="same", use_bias=False)
    expected = layer(x).numpy()
    kernel = onnx_graph.transpose_conv_as_conv(layer.get_weights()[0])
    got = tf.nn.conv2d(x, kernel.astype(np.float32), 1, "SAME").numpy()
    np.testing.assert_allclose(got, expected, rtol=0, atol=REWRITE_ATOL)


def test_upsample_then_conv_is_a_low_res_conv_and_depth_to_space():
    x = RNG.standard_normal((2, 7, 6, 5)).astype(np.float32)
    kernel = RNG.standard_normal((3, 3, 5, 3)).astype(np.float32)
    expected = tf.nn.conv2d(keras.layers.UpSampling2D(2)(x), kernel, 1, "SAME").numpy()
    phases = onnx_graph.upsample_conv_as_phases(kernel).astype(np.float32)
    # TF's NHWC depth_to_space reads channels as (row phase, column phase, channel): DCR.
    got = tf.nn.depth_to_space(tf.nn.conv2d(x, phases, 1, "SAME"), 2).numpy()
    np.testing.assert_allclose(got, expected, rtol=0, atol=REWRITE_ATOL)


def _conv_oihw(x, kernel, pads):
    """ONNX Conv (OIHW kernel, pads [top, left, bottom, right]) in TensorFlow's NHWC."""
    top, left, bottom, right = pads
    return tf.nn.conv2d(x, np.transpose(kernel, (2, 3, 1, 0)).astype(np.float32), 1,
                        [[0, 0], [top, bottom], [left, right], [0, 0]])


def test_last_conv_reads_the_phase_maps_without_assembling_them():
    phases = RNG.standard_normal((4, 2, 7, 6, 5)).astype(np.float32)   # phase 2a + b, NHWC
    weight = RNG.standard_normal((4, 5, 3, 3))                         # OIHW, 4 output phases
    bias = RNG.standard_normal(4)
    assembled = tf.nn.depth_to_space(tf.concat(list(phases), axis=-1), 2)
    expected = tf.nn.depth_to_space(
        _conv_oihw(assembled, weight, [1, 1, 1, 1]) + bias.astype(np.float32), 2).numpy()
    kernels, merged_bias = onnx_graph.last_conv_on_phases(weight, bias)
    summed = sum(_conv_oihw(p, k, pads) for p, (k, pads) in zip(phases, kernels))
    got = tf.nn.depth_to_space(summed + merged_bias.astype(np.float32), 4).numpy()
    assert got.shape == expected.shape == (2, 28, 24, 1)
    np.testing.assert_allclose(got, expected, rtol=0, atol=REWRITE_ATOL)


def test_last_conv_keeps_each_input_phase_2x2_window():
    kernels, _ = onnx_graph.last_conv_on_phases(RNG.standard_normal((4, 3, 3, 3)), np.zeros(4))
    assert [pads for _, pads in kernels] == [[0, 0, 1, 1], [0, 1, 1, 0], [1, 0, 0, 1],
                                             [1, 1, 0, 0]]
    assert all(k.shape == (16, 3, 2, 2) for k, _ in kernels)


def test_tanh_rescaled_is_sigmoid_of_twice():
    z = np.linspace(-12, 12, 10_001, dtype=np.float32)
    np.testing.assert_allclose(tf.sigmoid(2 * z).numpy(), (np.tanh(z) + 1) / 2, rtol=0,
                               atol=REWRITE_ATOL / 10)


@pytest.fixture(scope="module")
def trained_like_generator():
    """The seed generator with every BatchNorm holding trained-like statistics."""
    generator = networks.build_generator(SEED)
    for name in ("dense_bn", "convt1_bn"):
        _randomise_bn(generator.get_layer(name))
    return generator


@pytest.fixture(scope="module")
def sessions(trained_like_generator, tmp_path_factory):
    folder = tmp_path_factory.mktemp("onnx")
    out = {}
    for builder in artifacts.ONNX_BUILDERS:
        path = os.path.join(folder, f"{builder}.onnx")
        artifacts.write_onnx(trained_like_generator, path, SEED, builder=builder)
        out[builder] = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    return out


@pytest.mark.parametrize("batch", [1, 7, 64, 256])
def test_rewritten_graph_equals_tensorflow_and_tf2onnx(trained_like_generator, sessions, batch):
    label = RNG.integers(0, 10, batch).astype(np.int32)
    noise = (RNG.standard_normal((batch, 100)) * 1.5).astype(np.float32)
    expected = make_serving_fn(trained_like_generator, checks=False)(
        label=label, noise=noise)[contract.IMAGES_KEY].numpy()
    outputs = {name: s.run(None, {"label": label, "noise": noise})[0]
               for name, s in sessions.items()}
    assert outputs["rewritten"].shape == (batch, *contract.IMAGE_SHAPE)
    assert 0.01 < expected.std()   # the check below compares real pictures, not constants
    for name, got in outputs.items():
        np.testing.assert_allclose(got, expected, rtol=0, atol=contract.PARITY_ATOL,
                                   err_msg=f"{name} vs TensorFlow")


def test_rewritten_graph_has_only_fast_ops_and_ort_fuses_them(sessions, tmp_path):
    session = sessions["rewritten"]
    assert [i.name for i in session.get_inputs()] == [contract.LABEL_KEY, contract.NOISE_KEY]
    assert session.get_outputs()[0].shape == ["N", *contract.IMAGE_SHAPE]
    options = ort.SessionOptions()   # what an app gets by default: ORT_ENABLE_ALL
    options.optimized_model_filepath = str(tmp_path / "optimized.onnx")
    path = tmp_path / "model.onnx"
    onnx.save(onnx_graph.build_model(networks.build_generator(SEED), SEED, 17), path)
    ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    ops = [n.op_type for n in onnx.load(options.optimized_model_filepath).graph.node]
    assert "ConvTranspose" not in ops and "Tile" not in ops and "OneHot" not in ops
    # LeakyRelu is fused into the convolutions (NCHWc Conv) and the Gemm; no 64-channel
    # map is concatenated or reshuffled (rewrite 7): one DepthToSpace, on the 16-channel ink.
    assert "LeakyRelu" not in ops and "Concat" not in ops, ops
    assert ops.count("DepthToSpace") == 1, ops
    # The input checks (3 Reshapes named by their rule) survive ORT's optimiser: the label
    # flows through them to the table lookup, so none is dead code. The noise bound too.
    checks = [n.name for n in onnx.load(options.optimized_model_filepath).graph.node
              if n.op_type == "Reshape" and n.name.startswith(("label: must", "noise: must"))]
    assert len(checks) == 3 and "Clip" in ops and "ReduceSumSquare" in ops, ops


def test_checks_run_before_the_gemm_and_name_their_rule():
    model = onnx_graph.build_model(networks.build_generator(SEED), SEED, 17)
    names = [n.name for n in model.graph.node if n.op_type == "Reshape" and n.name]
    assert [name.split(": ")[0] for name in names] == ["label", "label", "noise"], names
    lookup = next(n for n in model.graph.node if n.op_type == "Gather")
    gemm = next(n for n in model.graph.node if n.op_type == "Gemm")
    assert lookup.input[1] == "label_checked" and lookup.output[0] == gemm.input[2]
    assert gemm.input[0] == "noise_clipped"


def test_other_architectures_are_refused():
    inputs = keras.Input((110,))
    other = keras.Model(inputs, keras.layers.Dense(5, name="dense")(inputs))
    with pytest.raises(ValueError, match="generator layer 'dense' has kernel .110, 5."):
        onnx_graph.check_seed_architecture(other, SEED)


def test_phase_split_keeps_each_phase_2x2_window():
    kernel = RNG.standard_normal((3, 3, 5, 2))
    weight = np.transpose(onnx_graph.upsample_conv_as_phases(kernel), (3, 2, 0, 1))
    phases = onnx_graph.split_phases(weight, np.arange(8.0), 2)
    assert [p[2] for p in phases] == [[1, 1, 0, 0], [1, 0, 0, 1], [0, 1, 1, 0], [0, 0, 1, 1]]
    assert all(p[0].shape == (2, 5, 2, 2) for p in phases)
    np.testing.assert_array_equal(phases[3][1], [6.0, 7.0])
    weight[0, 0, 2, 2] = 1.0   # a tap phase (0, 0) never reads
    with pytest.raises(ValueError, match="taps outside its 2x2 window"):
        onnx_graph.split_phases(weight, np.arange(8.0), 2)
