"""The exporter picks model.onnx's builder: export/onnx_graph.py's rewrite where it mirrors
the generator, else tf2onnx, through the same gates; the manifest says which and why."""

import dataclasses
import json
import os

import numpy as np
import onnx
import onnxruntime as ort
import pytest

from model_pkg import config as config_lib
from model_pkg import contract, networks
from model_pkg.export import onnx_graph
from model_pkg.export.exporter import choose_onnx_builder


def _generator(**options):
    cfg = dataclasses.replace(config_lib.SEED, **options)
    return networks.build_generator(cfg), cfg


def test_seed_generator_is_rewritten():
    assert choose_onnx_builder(*_generator())["builder"] == "rewritten"


def test_conditional_bn_generator_goes_to_tf2onnx():
    choice = choose_onnx_builder(*_generator(g_conditional_bn=True))
    assert choice["builder"] == "tf2onnx"
    assert "ConditionalBatchNorm" in choice["reason"] and "rewrite 2" in choice["reason"]


def test_g_filters_32_is_rewritten_and_matches_keras():
    generator, cfg = _generator(g_filters=32)
    rng = np.random.default_rng(3)
    for layer in ("dense_bn", "convt1_bn"):   # statistics other than the initial ones
        bn = generator.get_layer(layer)
        bn.set_weights([w + rng.uniform(0.1, 0.5, w.shape).astype(np.float32)
                        for w in bn.get_weights()])
    supported, reason = onnx_graph.supports(generator, cfg)
    assert supported, reason
    session = ort.InferenceSession(
        onnx_graph.build_model(generator, cfg, 17).SerializeToString(),
        providers=["CPUExecutionProvider"])
    label = (np.arange(12) % 10).astype(np.int32)
    noise = rng.standard_normal((12, contract.NOISE_DIM)).astype(np.float32)
    got = session.run(None, {contract.LABEL_KEY: label, contract.NOISE_KEY: noise})[0]
    want = (np.asarray(generator((label, noise), training=False)) + 1) / 2
    np.testing.assert_allclose(got, want, atol=contract.PARITY_ATOL)


@pytest.fixture(scope="module")
def conditional_version(tmp_path_factory):
    """A version exported from a 3-step run of a g_conditional_bn generator at batch 8
    (fused BatchNorm and phase upsampling too, so tf2onnx writes Conv nodes to quantize)."""
    from model_pkg.export.exporter import export_from_workdir
    from model_pkg.train import train_and_evaluate

    workdir = str(tmp_path_factory.mktemp("cbn") / "run")
    cfg = dataclasses.replace(config_lib.SEED, batch_size=8, steps=3, checkpoint_every=3,
                              g_conditional_bn=True, fused_batchnorm=True,
                              phase_upsampling=True)
    train_and_evaluate(cfg, workdir, progress=False, log=lambda *_: None)
    models = str(tmp_path_factory.mktemp("cbn_models"))
    return export_from_workdir(workdir, models, log=lambda *_: None, quality=False)


def test_conditional_bn_export_goes_through_tf2onnx_and_its_gates(conditional_version):
    with open(os.path.join(conditional_version, contract.MANIFEST_NAME)) as handle:
        manifest = json.load(handle)
    assert manifest["onnx"]["builder"] == "tf2onnx (export/artifacts.py)"
    assert "ConditionalBatchNorm" in manifest["onnx"]["builder_reason"]
    assert manifest["parity"]["passed"]
    assert max(manifest["parity"]["max_abs_diff"].values()) <= contract.PARITY_ATOL
    model = onnx.load(os.path.join(conditional_version, contract.ONNX_NAME))
    assert model.producer_name == "tf2onnx"
    int8 = manifest["reduced_precision"]["int8"]
    assert int8["published"], int8["reason"]
    quantized = onnx.load(os.path.join(conditional_version, "model.int8.onnx"))
    assert "QLinearConv" in {node.op_type for node in quantized.graph.node}
