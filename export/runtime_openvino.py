"""model.onnx through OpenVINO (CPU plugin), in process: an optional extra.

``pip install 'model-pkg[openvino]'``; without it, opening raises ImportError
(the registry, model_pkg/runtimes.py, turns it into MissingExtra naming the extra).
The latency hint: one inference at a time, like every other in-process runtime.
"""

import os

import numpy as np

from model_pkg import contract
from model_pkg.export.manifest import verify_version
from model_pkg.validation import validate_inputs


class OpenVinoRuntime:
    """The published model.onnx compiled by OpenVINO for the CPU.

    path: a version folder (manifest verified unless verify=False) or a model.onnx.
    precision: "f32" (INFERENCE_PRECISION_HINT=f32: agrees with ONNX Runtime within the
      contract), "bf16" (asked for; CPUs without bfloat16 run f32) or None (OpenVINO's
      own choice: bfloat16 on CPUs with AVX512_BF16 or AMX, whose images differ by more
      than the contract allows; export/openvino_bf16.py measures and gates that path).
    ``.precision`` is what the compiled model really uses; ``.version`` OpenVINO's.
    Not thread-safe: one infer request, reused by every call.
    """

    name = "openvino"

    def __init__(self, path, precision="f32", verify=True):
        import openvino as ov

        onnx_path = os.path.join(path, contract.ONNX_NAME) if os.path.isdir(path) else path
        if verify:
            verify_version(path)
        config = {"PERFORMANCE_HINT": "LATENCY"}
        if precision:
            config["INFERENCE_PRECISION_HINT"] = precision
        compiled = ov.Core().compile_model(onnx_path, "CPU", config)
        self.precision = compiled.get_property("INFERENCE_PRECISION_HINT").get_type_name()
        self.version = ov.__version__.split("-")[0]
        self._compiled = compiled
        self._request = compiled.create_infer_request()

    def new_request(self):
        """Another infer request on the compiled model (one per thread: a request is not
        thread-safe)."""
        return self._compiled.create_infer_request()

    @staticmethod
    def run_request(request, label, noise):
        """``request`` on (label, noise), no validation -> a copy of the images."""
        request.infer({contract.LABEL_KEY: label, contract.NOISE_KEY: noise})
        return np.array(request.get_output_tensor(0).data)   # a copy: the next call reuses it

    def run_unchecked(self, label, noise):
        """The compiled model alone (no validation): the bench's raw call."""
        return self.run_request(self._request, label, noise)

    def generate(self, label, noise):
        """(label int [N] 0..9, noise float [N,100]) -> float32 [N,28,28,1] in [0, 1]."""
        return self.run_unchecked(*validate_inputs(label, noise))
