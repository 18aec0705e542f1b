"""OpenVINO, the bench's peer, on the published model.onnx: it runs the same function."""

import numpy as np
import pytest

from model_pkg import contract, networks
from model_pkg.config import SEED
from model_pkg.export import artifacts

pytest.importorskip("openvino", reason="OpenVINO is an optional extra (model-pkg[openvino])")


def test_openvino_f32_agrees_with_onnx_runtime_within_the_contract(tmp_path):
    import onnxruntime as ort

    from model_pkg.benchmarks import peers

    path = artifacts.write_onnx(networks.build_generator(SEED), str(tmp_path / "m.onnx"), SEED)
    calls, facts = peers.openvino_calls(path)
    assert set(calls) == {"openvino_f32", "openvino_default"} and "openvino" in facts
    rng = np.random.default_rng(3)
    label = rng.integers(0, 10, 33).astype(np.int32)
    noise = rng.standard_normal((33, contract.NOISE_DIM)).astype(np.float32)
    expected = ort.InferenceSession(path, providers=["CPUExecutionProvider"]).run(
        None, {"label": label, "noise": noise})[0]
    first = calls["openvino_f32"](label, noise)
    np.testing.assert_allclose(first, expected, rtol=0, atol=contract.PARITY_ATOL)
    calls["openvino_f32"](label[:5], noise[:5])   # the next call must not overwrite the first's
    np.testing.assert_allclose(first, expected, rtol=0, atol=contract.PARITY_ATOL)
    # The default precision may be reduced (bf16 where the CPU has it): close, not equal.
    assert np.max(np.abs(calls["openvino_default"](label, noise) - expected)) < 0.1
