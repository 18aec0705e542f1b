"""The SavedModel's serving_default through tf.saved_model.load (TF2), in process."""

from model_pkg import contract
from model_pkg.export.manifest import verify_version
from model_pkg.validation import validate_inputs

_LABEL, _NOISE, _IMAGES = contract.LABEL_KEY, contract.NOISE_KEY, contract.IMAGES_KEY


class SavedModelRuntime:
    """serving_default through tf.saved_model.load; the version's manifest is verified
    first unless ``verify=False`` (the exporter's staging folder has none yet).
    ``max_batch``: the most rows generate() accepts (the graph refuses above 4,096)."""

    name = "savedmodel_tf2"

    def __init__(self, path, max_batch=None, verify=True):
        import tensorflow as tf

        if verify:
            verify_version(path)
        self._tf, self.max_batch = tf, max_batch
        self._signature = tf.saved_model.load(path).signatures[contract.SIGNATURE_NAME]

    def run_unchecked(self, label, noise):
        """The graph alone: its own asserts refuse bad inputs (tf errors)."""
        tf = self._tf
        out = self._signature(**{_LABEL: tf.constant(label), _NOISE: tf.constant(noise)})
        return out[_IMAGES].numpy()

    def generate(self, label, noise):
        """(label int [N] 0..9, noise float [N,100]) -> float32 [N,28,28,1] in [0,1]."""
        return self.run_unchecked(*validate_inputs(label, noise, max_batch=self.max_batch))
