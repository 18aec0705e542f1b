"""The in-process runtimes a version runs on, each in its own file (names kept here).

    KerasRuntime       the trained Keras generator (the reference)   runtime_keras.py
    SavedModelRuntime  the SavedModel through tf.saved_model.load    runtime_savedmodel.py
    CApiRuntime        the SavedModel through TF Serving's own loader
                       (tensorflow::LoadSavedModel via TensorFlow's C API,
                       run by the SignatureDef's tensor names)         tf_c_api.py
    OnnxRuntime        model.onnx through ONNX Runtime (CPU or CUDA) runtime_onnx.py

Which of them the parity gate and the bench run: model_pkg/runtimes.py, the registry.
``generate(label, noise)`` validates, then runs: float32 [N,28,28,1] in [0,1];
``run_unchecked`` runs without validation (the graphs' own checks, the bench's raw call).
"""

from model_pkg.export.runtime_keras import KerasRuntime, clip_noise  # noqa: F401
from model_pkg.export.runtime_onnx import OnnxRuntime  # noqa: F401
from model_pkg.export.runtime_savedmodel import SavedModelRuntime  # noqa: F401
from model_pkg.export.tf_c_api import CApiRuntime  # noqa: F401
