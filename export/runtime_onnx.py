"""model.onnx through ONNX Runtime, in process, on CPU or CUDA.

One class for the parity gate, the bench and users (serving/local_clients.py's
OnnxClient is this class with device="auto" by default). Loading from a version
folder verifies its manifest and the file's metadata first.
"""

import os
import threading
import warnings

from model_pkg import contract
from model_pkg.export.manifest import IntegrityError, read_manifest, verify_version
from model_pkg.validation import validate_inputs, validate_request

_LABEL, _NOISE, _IMAGES = contract.LABEL_KEY, contract.NOISE_KEY, contract.IMAGES_KEY
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


class OnnxRuntime:
    """generate() through ONNX Runtime; safe to call from many threads at once.

    path: a version folder (manifest verified unless verify=False) or a model.onnx.
    device: None takes the class's ``default_device`` ("cpu" here, the gate's and the
    bench's reference; "auto" for OnnxClient). "cpu" runs on CPU;
    "cuda" on CUDAExecutionProvider, and with strict=True nowhere else (CPU fallback
    disabled and the session's providers checked); "auto" uses CUDA when ONNX Runtime
    has it, else CPU, and says so once. ``providers``, when given, replace the device's.
    max_batch: the most rows generate() and predict() accept (None: no limit).
    precision: "float" (None: model.onnx, exact; the default), "int8" (model.int8.onnx,
    refused with the manifest's reason when the version has none), "bf16" (OpenVINO on
    model.onnx, where the version offers it) or "fast" (the fastest path the version
    offers, per batch size: ``fast_choices``); export/precision.py. Other than float
    needs a version folder. ``self.precision`` is the path opened, ``self.precision_record``
    its recorded difference from model.onnx and tolerance (None when opened from a file).
    """

    name = "onnx"
    default_device = "cpu"
    _paths = None   # bf16 or a multi-path fast: what run_unchecked calls instead of a session

    def __init__(self, path, device=None, strict=False, max_batch=None, *, verify=True,
                 providers=None, session_options=None, precision=None):
        import onnxruntime as ort

        if self._open_paths(path, precision, verify, max_batch,
                            dict(device=device, strict=strict, providers=providers,
                                 session_options=session_options)):
            return
        device = device or self.default_device
        available = ort.get_available_providers()
        chosen = list(providers) if providers else choose_providers(device, available)
        _check_strict(device, strict, available)
        options = session_options or ort.SessionOptions()
        if strict:
            chosen = [CUDA]
            options.add_session_config_entry("session.disable_cpu_ep_fallback", "1")
        onnx_path, source, manifest = self._open_path(path, precision, verify)
        try:
            self.session = ort.InferenceSession(source, sess_options=options,
                                                providers=chosen)
        except Exception as err:
            if not strict or type(err).__module__.split(".")[0] != "onnxruntime":
                raise
            raise DeviceError(f"strict CUDA requested, but ONNX Runtime cannot place the "
                              f"model on CUDA alone: {str(err).strip()[:300]}") from err
        self.metadata = dict(self.session.get_modelmeta().custom_metadata_map)
        if manifest is not None and self.precision == "float":
            _check_onnx_metadata(onnx_path, self.metadata, manifest)
        self.providers, self.max_batch = self.session.get_providers(), max_batch
        if strict and self.providers[0] != CUDA:
            raise DeviceError(f"strict CUDA requested, session runs on {self.providers}")
        if not providers and device != "cpu" and self.providers[0] != CUDA:
            _warn_once(type(self).__name__, path, device, self.providers)

    def _open_path(self, path, precision, verify):
        """(the file's path, what InferenceSession loads, the verified manifest or None).
        The int8 file is loaded from the bytes checked against the manifest's digest (it
        carries no metadata stamp of its own, unlike model.onnx)."""
        from model_pkg.export import precision as paths

        precision = paths.check_precision(precision)
        if precision != "float" and not os.path.isdir(path):
            raise ValueError(f"precision {precision!r} needs a version folder (its manifest "
                             f"says which files it offers), not the file {path}")
        if precision == "float" and not (verify and os.path.isdir(path)):
            # A model.onnx, or a folder opened unverified (the export's staging): no manifest.
            self.precision, self.precision_record = "float", None
            onnx_path = os.path.join(path, contract.ONNX_NAME) if os.path.isdir(path) else path
            return onnx_path, onnx_path, verify_version(path) if verify else None
        manifest = verify_version(path) if verify else read_manifest(path)
        self.precision, name = paths.choose(manifest, precision, path)
        self.precision_record = paths.record(manifest, self.precision)
        onnx_path = os.path.join(path, name)
        if self.precision == "float":
            return onnx_path, onnx_path, manifest if verify else None
        return onnx_path, paths.verified_bytes(path, manifest, name), manifest

    def _open_paths(self, path, precision, verify, max_batch, session_args):
        """True when ``precision`` is not one ONNX Runtime session (bf16, or fast over
        several paths): self._paths is then what runs (export/fast_path.py)."""
        from model_pkg.export import fast_path
        from model_pkg.export import precision as paths

        if paths.check_precision(precision) not in ("bf16", "fast") or not os.path.isdir(path):
            return False
        manifest = verify_version(path) if verify else read_manifest(path)
        chosen, _ = paths.choose(manifest, precision, path)
        if chosen not in ("bf16", "fast"):
            return False
        self.precision, self.precision_record = chosen, paths.record(manifest, chosen)
        self.max_batch, self.session, self.metadata = max_batch, None, {}
        onnx_path = os.path.join(path, contract.ONNX_NAME)
        if chosen == "bf16":
            self._paths = fast_path.OpenVinoPath(onnx_path)
            self.providers = ["OpenVINO CPU"]
            return True
        runs = {p: (fast_path.OpenVinoPath(onnx_path) if p == "bf16" else
                    type(self)(path, verify=False, precision=p, **session_args))
                for p in paths.fast_candidates(manifest)}
        self._paths = fast_path.FastPaths(runs)
        self.providers = runs["float"].providers
        return True

    @property
    def fast_choices(self):
        """{batch bucket: precision} that precision="fast" measured so far ({} otherwise)."""
        return dict(getattr(self._paths, "choices", {}))

    def run_unchecked(self, label, noise):
        """The session alone (no validation): the bench's raw call."""
        if self._paths is not None:
            return self._paths.run_unchecked(label, noise)
        return self.session.run([_IMAGES], {_LABEL: label, _NOISE: noise})[0]

    def generate(self, label, noise):
        """(label int [N] 0..9, noise float [N,100]) -> float32 [N,28,28,1] in [0, 1]."""
        return self.run_unchecked(*validate_inputs(label, noise, max_batch=self.max_batch))

    def predict(self, inputs, signature_name=contract.SIGNATURE_NAME):
        """A TF Serving-style request: {"label": ..., "noise": ...} -> {"images": ...}."""
        label, noise = validate_request(inputs, signature_name, max_batch=self.max_batch)
        return {_IMAGES: self.run_unchecked(label, noise)}


def _check_strict(device, strict, available):
    if strict and device != "cuda":
        raise ValueError("strict=True needs device='cuda'")
    if strict and CUDA not in available:
        raise DeviceError(f"strict CUDA requested, but this ONNX Runtime offers {available}")


def _warn_once(owner, path, device, providers):
    with _fallback_lock:
        if (path, device) in _fallback_warned:
            return
        _fallback_warned.add((path, device))
    warnings.warn(f"{owner}(device={device!r}): CUDA is not available, running on "
                  f"{providers[0]}", RuntimeWarning, stacklevel=3)


def _check_onnx_metadata(onnx_path, metadata, manifest):
    for key, expected in (("version", str(manifest["version"])),
                          ("manifest_digest", manifest["digest"])):
        if metadata.get(key) != expected:
            raise IntegrityError(f"{onnx_path}: metadata {key}={metadata.get(key)!r} does not "
                                 f"match the manifest ({expected!r})")
