"""Drawing digits from a published version with a chosen runtime."""

import numpy as np

from model_pkg import contract, plots

RUNTIMES = ("onnx", "savedmodel")


def open_runtime(version_dir, runtime):
    """A verified runtime over ``version_dir`` (the manifest is checked first)."""
    from export.runtimes import OnnxRuntime, SavedModelRuntime

    if runtime == "onnx":
        return OnnxRuntime(version_dir)
    if runtime == "savedmodel":
        return SavedModelRuntime(version_dir)
    raise ValueError(f"--runtime {runtime!r}: must be one of {', '.join(RUNTIMES)}")


def parse_labels(text):
    """'0,1,2' -> [0, 1, 2]; range is left to the shared validator."""
    try:
        return [int(part) for part in text.split(",") if part.strip() != ""]
    except ValueError:
        raise ValueError(f"--labels {text!r}: must be comma-separated integers 0..9") from None


def generate_grid(version_dir, runtime, labels, out, per_label=8, seed=0):
    """Draws ``per_label`` digits for each label (one row each) into PNG ``out``.

    Noise is standard normal from NumPy's default_rng(seed): the same call
    gives the same picture on every runtime.
    """
    if per_label < 1:
        raise ValueError(f"--per-label {per_label}: must be >= 1")
    rows = len(labels)
    label = np.repeat(np.asarray(labels), per_label)
    noise = np.random.default_rng(seed).standard_normal((rows * per_label, contract.NOISE_DIM))
    images = open_runtime(version_dir, runtime).generate(label, noise)
    plots.save_grid(out, images, max(rows, 1), per_label)
    return images
