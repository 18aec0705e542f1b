"""Max difference between runtimes by noise pattern and size, with the noise bound and without.

    python -m tests.faults.noise_bound WORKDIR [--batch 250]

WORKDIR is a training run (model-pkg train); its newest checkpoint is exported in memory
to TF (the serving function), model.onnx in ONNX Runtime, and the Keras reference
(docs/reliability.md has the table this printed). "unbounded" rebuilds the same graphs
with the bound moved out of reach (float32's max per value, no row limit).
"""

import argparse
import itertools
import os
import tempfile

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402

from model_pkg import contract  # noqa: E402

SIZES = (1.0, 5.68, contract.NOISE_CLIP, contract.NOISE_NORM_CLIP, 1e3, 1e6, 3e38,
         float(np.finfo(np.float32).max))


def patterns(rng, n, size):
    """{name: float32 [n, 100]} of one largest |value|, ``size``."""
    z = rng.standard_normal((n, contract.NOISE_DIM))
    with np.errstate(over="ignore"):
        return {name: value.astype(np.float32) for name, value in {
            "every value +-size": np.sign(z) * size,
            "one value at size": np.where(np.arange(100) == rng.integers(0, 100, (n, 1)), size, 0),
            "normal, largest = size": z / np.abs(z).max(axis=1, keepdims=True) * size,
            "normal and one value at size": np.where(np.arange(100) == 0, size, z),
        }.items()}


def runtimes(workdir):
    """{name: call(label, noise)} built with the contract's current bound."""
    import onnx
    import onnxruntime as ort

    from model_pkg.export.exporter import load_trained_generator
    from model_pkg.export.onnx_graph import build_model
    from model_pkg.export.runtimes import KerasRuntime
    from model_pkg.export.signature import make_serving_fn

    generator, config = load_trained_generator(workdir)[:2]
    serve = make_serving_fn(generator, checks=False)
    path = os.path.join(tempfile.mkdtemp(), "model.onnx")
    onnx.save(build_model(generator, config, 17), path)
    session = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    return {"tf": lambda y, z: serve(label=y, noise=z)[contract.IMAGES_KEY].numpy(),
            "onnx": lambda y, z: session.run(None, {"label": y, "noise": z})[0],
            "keras": KerasRuntime(generator).generate}


def max_difference(calls, label, noise):
    outs = [call(label, noise) for call in calls.values()]
    if not all(np.isfinite(out).all() for out in outs):
        return float("nan")
    return max(float(np.max(np.abs(a - b))) for a, b in itertools.combinations(outs, 2))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("workdir")
    parser.add_argument("--batch", type=int, default=250)
    args = parser.parse_args(argv)
    label = (np.arange(args.batch) % contract.NUM_CLASSES).astype(np.int32)
    shipped = contract.NOISE_CLIP, contract.NOISE_NORM_CLIP
    results = {}
    # The Keras reference reads the bound when called, so each variant runs whole.
    for variant, bound in (("unbounded", (float(np.finfo(np.float32).max), np.inf)),
                           ("bounded", shipped)):
        contract.NOISE_CLIP, contract.NOISE_NORM_CLIP = bound
        calls = runtimes(args.workdir)
        with np.errstate(invalid="ignore", over="ignore"):
            for size in SIZES:
                noises = patterns(np.random.default_rng(0), args.batch, size)
                for name, noise in noises.items():
                    results.setdefault((size, name), {})[variant] = max_difference(
                        calls, label, noise)
    contract.NOISE_CLIP, contract.NOISE_NORM_CLIP = shipped
    for (size, name), diff in results.items():
        print(f"{size:<12g} {name:<30} unbounded {diff['unbounded']:<9.2g} "
              f"bounded {diff['bounded']:.2g}")

if __name__ == "__main__":
    main()
