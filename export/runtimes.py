"""The in-process runtimes a version runs on, each behind the shared validator.

    KerasRuntime       the trained Keras generator (the reference)
    SavedModelRuntime  the SavedModel through tf.saved_model.load (TF2)
    CApiRuntime        the SavedModel through TF Serving's own loader
                       (tensorflow::LoadSavedModel via TensorFlow's C API,
                       export/tf_c_api.py), run by the SignatureDef's tensor names
    OnnxRuntime        model.onnx through ONNX Runtime

``generate(label, noise)`` validates, then runs: float32 [N,28,28,1] in [0,1].
The SavedModel runtimes also have ``run_unchecked`` to prove the graph's own checks.
Loading from a version folder verifies its manifest first.
"""

import os

import numpy as np

from model_pkg import contract
from model_pkg.export.manifest import IntegrityError, verify_version
from model_pkg.export.tf_c_api import CApiRuntime  # noqa: F401 - one of the runtimes, defined there
from model_pkg.validation import validate_inputs

_LABEL, _NOISE, _IMAGES = contract.LABEL_KEY, contract.NOISE_KEY, contract.IMAGES_KEY


class KerasRuntime:
    """The Keras generator itself, mapped to the contract's range."""

    name = "keras"

    def __init__(self, generator):
        self.generator = generator

    def generate(self, label, noise):
        label, noise = validate_inputs(label, noise)
        images = self.generator((label, clip_noise(noise)), training=False).numpy()
        return np.clip((images + 1.0) * 0.5, contract.PIXEL_MIN, contract.PIXEL_MAX)


class SavedModelRuntime:
    """serving_default through tf.saved_model.load."""

    name = "savedmodel_tf2"

    def __init__(self, path, verify=True):
        import tensorflow as tf

        if verify:
            verify_version(path)
        self._tf = tf
        self._signature = tf.saved_model.load(path).signatures[contract.SIGNATURE_NAME]

    def run_unchecked(self, label, noise):
        tf = self._tf
        out = self._signature(**{_LABEL: tf.constant(label), _NOISE: tf.constant(noise)})
        return out[_IMAGES].numpy()

    def generate(self, label, noise):
        return self.run_unchecked(*validate_inputs(label, noise))


class OnnxRuntime:
    """model.onnx through ONNX Runtime (CPU unless providers say otherwise)."""

    name = "onnx"

    def __init__(self, path, providers=("CPUExecutionProvider",), verify=True,
                 session_options=None):
        import onnxruntime as ort

        onnx_path = os.path.join(path, contract.ONNX_NAME) if os.path.isdir(path) else path
        manifest = verify_version(path) if verify else None
        self.session = ort.InferenceSession(onnx_path, sess_options=session_options,
                                            providers=list(providers))
        self.metadata = dict(self.session.get_modelmeta().custom_metadata_map)
        if manifest is not None:
            _check_onnx_metadata(onnx_path, self.metadata, manifest)

    def generate(self, label, noise):
        label, noise = validate_inputs(label, noise)
        return self.session.run([_IMAGES], {_LABEL: label, _NOISE: noise})[0]


def clip_noise(noise):
    """NumPy twin of the graphs' noise bound (export/signature.py, clip_noise)."""
    noise = np.clip(noise, -contract.NOISE_CLIP, contract.NOISE_CLIP)
    norm = np.sqrt(np.sum(np.square(noise), axis=1, keepdims=True))
    with np.errstate(divide="ignore"):   # a zero row: min(1, inf) = 1, as in the graphs
        return noise * np.minimum(np.float32(1), np.float32(contract.NOISE_NORM_CLIP) / norm)


def _check_onnx_metadata(onnx_path, metadata, manifest):
    for key, expected in (("version", str(manifest["version"])),
                          ("manifest_digest", manifest["digest"])):
        if metadata.get(key) != expected:
            raise IntegrityError(f"{onnx_path}: metadata {key}={metadata.get(key)!r} does not "
                                 f"match the manifest ({expected!r})")
