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


def test_another_architecture_goes_to_tf2onnx():
    import keras

    inputs = keras.Input((110,))
    other = keras.Model(inputs, keras.layers.Dense(5, name="dense")(inputs))
    choice = choose_onnx_builder(other, config_lib.SEED)
    assert choice["builder"] == "tf2onnx" and "generator layer 'dense'" in choice["reason"]


def _randomise(generator, rng):
    """Statistics, gammas and betas other than the initial ones, as after training."""
    for layer in ("dense_bn", "convt1_bn"):
        bn = generator.get_layer(layer)
        inner = getattr(bn, "norm", bn)
        inner.set_weights([w + rng.uniform(0.1, 0.5, w.shape).astype(np.float32)
                           for w in inner.get_weights()])
        if inner is not bn:   # the label's tables
            bn.gamma.assign(rng.uniform(0.5, 1.5, bn.gamma.shape).astype(np.float32))
            bn.beta.assign(rng.normal(0, 0.3, bn.beta.shape).astype(np.float32))


@pytest.mark.parametrize("options", [{"g_filters": 32}, {"g_conditional_bn": True},
                                     {"g_conditional_bn": True, "fused_batchnorm": True,
                                      "phase_upsampling": True}])
def test_generator_options_are_rewritten_and_match_keras(options):
    generator, cfg = _generator(**options)
    rng = np.random.default_rng(3)
    _randomise(generator, rng)
    supported, reason = onnx_graph.supports(generator, cfg)
    assert supported, reason
    model = onnx_graph.build_model(generator, cfg, 17)
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    label = (np.arange(40) % 10).astype(np.int32)
    noise = rng.standard_normal((40, contract.NOISE_DIM)).astype(np.float32)
    got = session.run(None, {contract.LABEL_KEY: label, contract.NOISE_KEY: noise})[0]
    want = (np.asarray(generator((label, noise), training=False)) + 1) / 2
    assert 0.01 < want.std()
    np.testing.assert_allclose(got, want, atol=contract.PARITY_ATOL)
    # The label's rows are looked up only after the label checks, like rewrite 1's table.
    lookups = [n for n in model.graph.node if n.op_type == "Gather"]
    assert {n.input[1] for n in lookups} == {"label_checked"}
    assert len(lookups) == (5 if cfg.g_conditional_bn else 1)


@pytest.fixture(scope="module")
def conditional_version(tmp_path_factory):
    """A version exported from a 3-step run of a g_conditional_bn generator at batch 8
    (fused BatchNorm and phase upsampling too, as the default preset has them)."""
    from model_pkg.export.exporter import export_from_workdir
    from model_pkg.train import train_and_evaluate

    workdir = str(tmp_path_factory.mktemp("cbn") / "run")
    cfg = dataclasses.replace(config_lib.SEED, batch_size=8, steps=3, checkpoint_every=3,
                              g_conditional_bn=True, fused_batchnorm=True,
                              phase_upsampling=True)
    train_and_evaluate(cfg, workdir, progress=False, log=lambda *_: None)
    models = str(tmp_path_factory.mktemp("cbn_models"))
    return export_from_workdir(workdir, models, log=lambda *_: None, quality=False)


def test_conditional_bn_export_is_rewritten_and_passes_its_gates(conditional_version):
    with open(os.path.join(conditional_version, contract.MANIFEST_NAME)) as handle:
        manifest = json.load(handle)
    assert manifest["onnx"]["builder"].startswith("rewritten")
    assert "class-conditional" in manifest["onnx"]["builder_reason"]
    assert manifest["parity"]["passed"]
    assert max(manifest["parity"]["max_abs_diff"].values()) <= contract.PARITY_ATOL
    model = onnx.load(os.path.join(conditional_version, contract.ONNX_NAME))
    assert model.producer_name == "model_pkg.export.onnx_graph"
    session = ort.InferenceSession(os.path.join(conditional_version, contract.ONNX_NAME),
                                   providers=["CPUExecutionProvider"])
    with pytest.raises(Exception, match="label: must"):   # the in-graph label check
        session.run(None, {contract.LABEL_KEY: np.array([10], np.int32),
                           contract.NOISE_KEY: np.zeros((1, contract.NOISE_DIM), np.float32)})
    int8 = manifest["reduced_precision"]["int8"]
    assert int8["published"], int8["reason"]
    quantized = onnx.load(os.path.join(conditional_version, "model.int8.onnx"))
    assert "QLinearConv" in {node.op_type for node in quantized.graph.node}
