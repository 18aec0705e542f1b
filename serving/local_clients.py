"""In-process clients: ONNX Runtime (CPU or CUDA) and TensorFlow (SavedModel).

The runtimes themselves (export/runtime_onnx.py, export/runtime_savedmodel.py):
one family for the parity gate, the bench and users. Both verify the version's
manifest before loading and validate every input once.
"""

from model_pkg.export.runtime_onnx import (  # noqa: F401 - this module's documented names
    CPU,
    CUDA,
    DEVICES,
    DeviceError,
    OnnxRuntime,
    _fallback_warned,
    choose_providers,
)
from model_pkg.export.runtime_savedmodel import SavedModelRuntime

# SavedModelClient(version_dir, max_batch=None): the same class under the users' name.
SavedModelClient = SavedModelRuntime


class OnnxClient(OnnxRuntime):
    """OnnxRuntime for users: device="auto" by default (CUDA when usable, else CPU).

    OnnxClient(version_dir, device="auto"|"cpu"|"cuda", strict=False, max_batch=None,
               precision="float"|"int8"|"fast") (precision: export/precision.py).
    """

    default_device = "auto"
