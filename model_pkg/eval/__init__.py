"""Evaluation of a generator's digits, in one place (TF-GAN keeps it apart from training too).

    classifier.py  the evaluator: an MNIST classifier trained here, never the GAN's D
    metrics.py     label accuracy, Fréchet distance, coverage, CAS on its features

``measure_quality(generate)`` is what the export gate, ``model-pkg evaluate``
and the training screens call; ``generate(labels int32 [N], noise float32
[N,100]) -> images float32 [N,28,28,1] in [0, 1]`` can be any runtime.
"""

# The real digits' reference (features, floors) of the last evaluator and data: an export
# measures model.onnx and then model.int8.onnx (export/quantize.py) against the same one,
# and computing it is most of a measurement (docs/artifacts.md, "Reduced precision").
_REFERENCES = {}


def keras_generate(generator):
    """``generate(labels, noise)`` in the contract's [0, 1] of a Keras generator (tanh [-1, 1]),
    as measure_quality and the coverage picture take it."""
    import numpy as np

    def generate(labels, noise):
        images = generator((np.asarray(labels, np.int32), np.asarray(noise, np.float32)),
                           training=False)
        return np.clip((np.asarray(images, np.float32) + 1.0) / 2.0, 0.0, 1.0)

    return generate


def measure_quality(generate, cas=False, log=print):
    """The fast metrics (and CAS when asked) of ``generate`` on fixed inputs, as a dict."""
    from model_pkg import data
    from model_pkg.eval import classifier as evaluator
    from model_pkg.eval import metrics
    from model_pkg.paths import evaluator_dir

    mnist = data.load_mnist()
    model, meta = evaluator.load_or_train(evaluator_dir(), mnist, log=log)
    key = (mnist.sha256, meta["sha256"])   # content checksums: the same digits, the same model
    if key not in _REFERENCES:
        _REFERENCES.clear()
        _REFERENCES[key] = metrics.real_reference(model, mnist)
    result = metrics.fast_metrics(generate, model, _REFERENCES[key])
    result["evaluator"] = {"test_accuracy": meta["test_accuracy"], "sha256": meta["sha256"]}
    if cas:
        log("CAS: training a classifier on 60,000 generated digits ...")
        result |= metrics.cas(generate, mnist, meta["test_accuracy"])
    return result
