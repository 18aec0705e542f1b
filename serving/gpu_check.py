"""GPU check for the ONNX client: CUDA equals CPU within 1e-4, strict mode refuses CPU.

    model-pkg gpu-check VERSION_DIR   (exit 0 pass, 1 fail, 0 with SKIP without a GPU;
                                       also python -m model_pkg.serving.gpu_check)

Prints one JSON object. Without CUDAExecutionProvider in this ONNX Runtime it
says SKIP and checks only that strict mode refuses to fall back to the CPU.
"""

import json
import sys
import time

import numpy as np

from model_pkg.export import parity
from model_pkg.serving.local_clients import CUDA, DeviceError, OnnxClient

GPU_ATOL = 1e-4   # cuDNN picks other convolution algorithms than the CPU kernels


def _time_per_batch(client, label, noise, repeats=20):
    client.generate(label, noise)
    began = time.perf_counter()
    for _ in range(repeats):
        client.generate(label, noise)
    return (time.perf_counter() - began) / repeats


def run(version_dir):
    import onnxruntime as ort

    report = {"onnxruntime": ort.__version__, "available": ort.get_available_providers()}
    probe = OnnxClient(version_dir, device="auto")   # onnxruntime-gpu lists CUDA even without one
    report["auto_providers"] = probe.providers
    if probe.providers[0] != CUDA:
        try:
            OnnxClient(version_dir, device="cuda", strict=True)
            report["strict_refuses_cpu"] = False
        except DeviceError as err:
            report["strict_refuses_cpu"] = True
            report["strict_error"] = str(err)
        report["result"] = "SKIP: CUDA not usable here" if report["strict_refuses_cpu"] \
            else "FAIL"
        return report
    cpu = OnnxClient(version_dir, device="cpu")
    gpu = OnnxClient(version_dir, device="cuda", strict=True)
    report["gpu_providers"] = gpu.providers
    diffs = [float(np.max(np.abs(gpu.generate(y, z) - cpu.generate(y, z))))
             for y, z in parity.golden_inputs()]
    report["max_abs_diff_cuda_vs_cpu"] = max(diffs)
    label, noise = parity.golden_inputs()[-1]
    report["seconds_per_batch_256"] = {"cpu": _time_per_batch(cpu, label, noise),
                                       "cuda": _time_per_batch(gpu, label, noise)}
    ok = max(diffs) <= GPU_ATOL and gpu.providers[0] == CUDA
    report["result"] = "PASS" if ok else "FAIL"
    return report


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 1:
        print(__doc__, file=sys.stderr)
        return 2
    report = run(argv[0])
    print(json.dumps(report, indent=2))
    return 1 if report["result"] == "FAIL" else 0


if __name__ == "__main__":
    sys.exit(main())
