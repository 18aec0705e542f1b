"""OnnxClient: providers chosen explicitly, strict CUDA, threads, manifest first."""

import warnings

import numpy as np
import pytest

from model_pkg.export import parity
from model_pkg.export.manifest import IntegrityError
from model_pkg.serving import gpu_check, local_clients
from model_pkg.serving.local_clients import DeviceError, OnnxClient, SavedModelClient


@pytest.fixture(scope="module")
def cuda_usable(published):
    """ONNX Runtime GPU lists CUDA even where it cannot load it; a session tells the truth."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return OnnxClient(published[1], device="auto").providers[0] == "CUDAExecutionProvider"


def test_choose_providers():
    cpu_only = ["CPUExecutionProvider"]
    both = ["CUDAExecutionProvider", "CPUExecutionProvider"]
    assert local_clients.choose_providers("cpu", both) == cpu_only
    assert local_clients.choose_providers("auto", cpu_only) == cpu_only
    assert local_clients.choose_providers("auto", both) == both
    assert local_clients.choose_providers("cuda", cpu_only) == both
    with pytest.raises(ValueError, match="device 'tpu'"):
        local_clients.choose_providers("tpu", both)


def test_cpu_client_matches_the_savedmodel(published):
    onnx, tf = OnnxClient(published[1], device="cpu"), SavedModelClient(published[1])
    assert onnx.providers == ["CPUExecutionProvider"]
    for label, noise in parity.golden_inputs():
        np.testing.assert_allclose(onnx.generate(label, noise), tf.generate(label, noise),
                                   rtol=0, atol=1e-5)


def test_auto_falls_back_to_cpu_and_says_so_once(published, cuda_usable):
    if cuda_usable:
        pytest.skip("checks the CPU fallback; this machine has CUDA")
    local_clients._fallback_warned.clear()
    with pytest.warns(RuntimeWarning, match="CUDA is not available, running on CPU"):
        client = OnnxClient(published[1], device="auto")
    assert client.providers == ["CPUExecutionProvider"]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        OnnxClient(published[1], device="auto")   # no second warning


def test_strict_cuda_refuses_to_run_on_cpu(published, cuda_usable):
    if cuda_usable:
        pytest.skip("checks the refusal; this machine has CUDA")
    with pytest.raises(DeviceError, match="strict CUDA requested"):
        OnnxClient(published[1], device="cuda", strict=True)
    with pytest.raises(ValueError, match="strict=True needs device='cuda'"):
        OnnxClient(published[1], device="cpu", strict=True)


def test_gpu_check_script_skips_cleanly_without_a_gpu(published, capsys, cuda_usable):
    if cuda_usable:
        pytest.skip("GPU machine: run model-pkg gpu-check VERSION_DIR")
    assert gpu_check.main([published[1]]) == 0
    assert '"result": "SKIP: CUDA not usable here"' in capsys.readouterr().out


def test_manifest_is_verified_before_loading(version_copy):
    (version_copy / "model.onnx").write_bytes(b"not onnx")
    with pytest.raises(IntegrityError, match="model.onnx: sha256"):
        OnnxClient(str(version_copy))


def test_the_clients_are_the_export_runtimes(published):
    """One class family: the gate's and the bench's runtimes are the users' clients."""
    from model_pkg.export.runtimes import OnnxRuntime, SavedModelRuntime
    from model_pkg.validation import InputError

    assert issubclass(OnnxClient, OnnxRuntime) and SavedModelClient is SavedModelRuntime
    assert OnnxRuntime(published[1]).providers == ["CPUExecutionProvider"]   # the reference
    label, noise = parity.golden_inputs()[1]
    for client in (OnnxClient(published[1], device="cpu", max_batch=2),
                   SavedModelClient(published[1], max_batch=2)):
        with pytest.raises(InputError, match="batch size N must be <= 2"):
            client.generate(label, noise)
        assert client.generate(label[:2], noise[:2]).shape == (2, 28, 28, 1)
