"""What this machine computes fast: the CPU's name and flags, and whether bfloat16 is native.

``compute_dtype="auto"`` (the default preset) trains in bfloat16 only where the hardware has
bfloat16 arithmetic; elsewhere Keras' mixed_bfloat16 is emulated in float32 software and is
slower than plain float32 (docs/training.md has the measurement).
"""

import os
import platform

# /proc/cpuinfo flags that mean bfloat16 dot products in hardware (AVX-512 BF16, AMX tiles).
BF16_CPU_FLAGS = ("avx512_bf16", "amx_bf16")
BF16_GPU_CAPABILITY = (8, 0)   # NVIDIA Ampere and newer have bfloat16 tensor cores


def cpu_info():
    """(model name, set of flags) from /proc/cpuinfo; the platform's processor string and
    no flags where there is none."""
    name, flags = platform.processor() or "unknown CPU", set()
    if os.path.exists("/proc/cpuinfo"):
        with open("/proc/cpuinfo") as handle:
            for line in handle:
                key, _, value = line.partition(":")
                if key.strip() == "model name":
                    name = value.strip()
                elif key.strip() == "flags":
                    flags = set(value.split())
    return name, flags


def gpu_capabilities():
    """[(major, minor), ...] of the GPUs TensorFlow sees; [] without one (imports TensorFlow)."""
    import tensorflow as tf

    found = []
    for gpu in tf.config.list_physical_devices("GPU"):
        details = tf.config.experimental.get_device_details(gpu)
        found.append(tuple(details.get("compute_capability") or (0, 0)))
    return found


def choose_compute_dtype(cpu_flags, gpus):
    """"bfloat16" where the devices that will train have bfloat16 in hardware, else "float32".

    ``gpus``: compute capabilities as gpu_capabilities() gives; with any GPU, TensorFlow
    trains there, so the GPUs decide (all must have it); otherwise the CPU's flags do.
    """
    if gpus:
        native = all(tuple(c) >= BF16_GPU_CAPABILITY for c in gpus)
    else:
        native = any(flag in cpu_flags for flag in BF16_CPU_FLAGS)
    return "bfloat16" if native else "float32"


def compute_dtype(requested):
    """``requested`` ("float32", "bfloat16" or "auto") as the dtype this machine trains in."""
    if requested != "auto":
        return requested
    return choose_compute_dtype(cpu_info()[1], gpu_capabilities())
