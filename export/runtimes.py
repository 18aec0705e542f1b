"""The in-process runtimes a version runs on, each behind the shared validator.

    KerasRuntime       the trained Keras generator (the reference)
    SavedModelRuntime  the SavedModel through tf.saved_model.load (TF2)
    Tf1SessionRuntime  the SavedModel as TF Serving's loader runs it: the
                       MetaGraph tagged "serve", the SignatureDef's tensor
                       names, a Session
    OnnxRuntime        model.onnx through ONNX Runtime

``generate(label, noise)`` validates, then runs: float32 [N,28,28,1] in [0,1].
The TF runtimes also have ``run_unchecked`` to prove the graph's own checks.
Loading from a version folder verifies its manifest first.
"""

import os
import threading

import numpy as np

from export.manifest import IntegrityError, verify_version
from model_pkg import contract
from model_pkg.validation import validate_inputs

_LABEL, _NOISE, _IMAGES = contract.LABEL_KEY, contract.NOISE_KEY, contract.IMAGES_KEY


class KerasRuntime:
    """The Keras generator itself, mapped to the contract's range."""

    name = "keras"

    def __init__(self, generator):
        self.generator = generator

    def generate(self, label, noise):
        label, noise = validate_inputs(label, noise)
        images = self.generator((label, noise), training=False).numpy()
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


class Tf1SessionRuntime:
    """The SavedModel run the way TF Serving's loader runs it (TF1 session path)."""

    name = "savedmodel_tf1"

    def __init__(self, path, verify=True):
        import tensorflow as tf

        if verify:
            verify_version(path)
        self._graph = tf.Graph()
        self._session = tf.compat.v1.Session(graph=self._graph)
        logger, level = tf.get_logger(), tf.get_logger().level
        logger.setLevel("ERROR")   # the TF1 loader's deprecation notice is expected here
        try:
            with self._graph.as_default():
                meta_graph = tf.compat.v1.saved_model.loader.load(
                    self._session, [tf.saved_model.SERVING], path)
        finally:
            logger.setLevel(level)
        signature = meta_graph.signature_def[contract.SIGNATURE_NAME]
        self.signature_def = signature
        self._feeds = {k: (v.name, tf.dtypes.as_dtype(v.dtype).as_numpy_dtype)
                       for k, v in signature.inputs.items()}
        self._fetch = signature.outputs[_IMAGES].name
        self._lock = threading.Lock()

    def run_unchecked(self, label, noise):
        """Feeds as TF Serving does: a dtype that differs from the signature is refused."""
        feed = {}
        for key, value in ((_LABEL, label), (_NOISE, noise)):
            tensor_name, dtype = self._feeds[key]
            value = np.asarray(value)
            if value.dtype != dtype:
                raise TypeError(f"{key}: expects {np.dtype(dtype).name} but "
                                f"{value.dtype} is provided")
            feed[tensor_name] = value
        with self._lock:   # one Session, callers from many threads
            return self._session.run(self._fetch, feed)

    def generate(self, label, noise):
        return self.run_unchecked(*validate_inputs(label, noise))

    def run_request(self, inputs, signature_name=contract.SIGNATURE_NAME, max_batch=None):
        """Checks a request the way TF Serving does before Session::Run (signature name,
        input aliases, dtypes, and its batching layer's size limit when ``max_batch`` is
        given), then runs it; the values are left to the graph's asserts."""
        if signature_name not in ("", contract.SIGNATURE_NAME):
            raise KeyError(f'signature_name: "{signature_name}" not found in signature def')
        aliases = set(self._feeds)
        if set(inputs) != aliases:
            bad = sorted(set(inputs) ^ aliases)
            raise KeyError(f"{bad[0]}: input tensor alias not found in signature, or missing; "
                           f"inputs expected to be {sorted(aliases)}")
        size = np.shape(inputs[_LABEL])[0] if np.ndim(inputs[_LABEL]) else 1
        if max_batch is not None and size > max_batch:
            raise ValueError(f"{_LABEL}: batch size {size} is larger than the maximum "
                             f"input batch size {max_batch}")
        return self.run_unchecked(inputs[_LABEL], inputs[_NOISE])

    def close(self):
        self._session.close()


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


def _check_onnx_metadata(onnx_path, metadata, manifest):
    for key, expected in (("version", str(manifest["version"])),
                          ("manifest_digest", manifest["digest"])):
        if metadata.get(key) != expected:
            raise IntegrityError(f"{onnx_path}: metadata {key}={metadata.get(key)!r} does not "
                                 f"match the manifest ({expected!r})")
