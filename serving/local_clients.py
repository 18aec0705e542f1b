"""In-process clients: ONNX Runtime (CPU or CUDA) and TensorFlow (SavedModel).

Both verify the version's manifest before loading and validate every input.
"""

import threading
import warnings

from model_pkg import contract
from model_pkg.export.runtimes import OnnxRuntime, SavedModelRuntime
from model_pkg.validation import validate_inputs, validate_request

CUDA = "CUDAExecutionProvider"
CPU = "CPUExecutionProvider"
DEVICES = ("auto", "cpu", "cuda")
_fallback_warned = set()
_fallback_lock = threading.Lock()


class DeviceError(RuntimeError):
    """strict=True asked for CUDA, and ONNX Runtime would run elsewhere."""


def choose_providers(device, available):
    """The execution providers for ``device``, in ONNX Runtime's priority order."""
    if device not in DEVICES:
        raise ValueError(f"device {device!r}: must be one of {DEVICES}")
    if device == "cpu":
        return [CPU]
    if device == "cuda" or CUDA in available:
        return [CUDA, CPU]
    return [CPU]


class OnnxClient:
    """generate() through ONNX Runtime; safe to call from many threads at once.

    device="cuda" runs on CUDAExecutionProvider; with strict=True it refuses to
    run anywhere else (CPU fallback disabled and the session's providers checked).
    device="auto" uses CUDA when ONNX Runtime has it, else CPU, and says so once.
    """

    def __init__(self, version_dir, device="auto", strict=False, max_batch=None):
        import onnxruntime as ort

        available = ort.get_available_providers()
        providers = choose_providers(device, available)
        if strict and device != "cuda":
            raise ValueError("strict=True needs device='cuda'")
        if strict and CUDA not in available:
            raise DeviceError(f"strict CUDA requested, but this ONNX Runtime offers {available}")
        options = ort.SessionOptions()
        if strict:
            providers = [CUDA]
            options.add_session_config_entry("session.disable_cpu_ep_fallback", "1")
        try:
            self._runtime = OnnxRuntime(version_dir, providers=providers, session_options=options)
        except Exception as err:
            if not strict or type(err).__module__.split(".")[0] != "onnxruntime":
                raise
            raise DeviceError(f"strict CUDA requested, but ONNX Runtime cannot place the "
                              f"model on CUDA alone: {str(err).strip()[:300]}") from err
        self.providers = self._runtime.session.get_providers()
        self.metadata, self.max_batch = self._runtime.metadata, max_batch
        if strict and self.providers[0] != CUDA:
            raise DeviceError(f"strict CUDA requested, session runs on {self.providers}")
        if device != "cpu" and self.providers[0] != CUDA:
            _warn_once(version_dir, device, self.providers)

    def generate(self, labels, noise):
        """(labels [N] 0..9, noise [N,100]) -> float32 [N,28,28,1] in [0, 1]."""
        labels, noise = validate_inputs(labels, noise, max_batch=self.max_batch)
        return self._runtime.generate(labels, noise)

    def predict(self, inputs, signature_name=contract.SIGNATURE_NAME):
        """A TF Serving-style request: {"label": ..., "noise": ...} -> {"images": ...}."""
        labels, noise = validate_request(inputs, signature_name, max_batch=self.max_batch)
        return {contract.IMAGES_KEY: self._runtime.generate(labels, noise)}


def _warn_once(version_dir, device, providers):
    with _fallback_lock:
        if (version_dir, device) in _fallback_warned:
            return
        _fallback_warned.add((version_dir, device))
    warnings.warn(f"OnnxClient(device={device!r}): CUDA is not available, running on "
                  f"{providers[0]}", RuntimeWarning, stacklevel=3)


class SavedModelClient:
    """generate() through TensorFlow (tf.saved_model.load of the version)."""

    def __init__(self, version_dir, max_batch=None):
        self._runtime = SavedModelRuntime(version_dir)
        self.max_batch = max_batch

    def generate(self, labels, noise):
        labels, noise = validate_inputs(labels, noise, max_batch=self.max_batch)
        return self._runtime.generate(labels, noise)
