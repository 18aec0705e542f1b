"""Quality metrics of a generator, and a version's metrics as JSON."""

from export.manifest import verify_version
from model_pkg.paths import evaluator_dir


def measure_quality(generate, cas=False, log=print):
    """Fast metrics (and CAS when asked) of ``generate(labels, noise)`` on fixed inputs."""
    from model_pkg import data, evaluator, quality

    mnist = data.load_mnist()
    classifier, meta = evaluator.load_or_train(evaluator_dir(), mnist, log=log)
    metrics = quality.fast_metrics(generate, classifier, quality.real_reference(classifier, mnist))
    metrics["evaluator"] = {"test_accuracy": meta["test_accuracy"], "sha256": meta["sha256"]}
    if cas:
        log("CAS: training a classifier on 60,000 generated digits ...")
        metrics |= quality.cas(generate, mnist, meta["test_accuracy"])
    return metrics


def version_metrics(version_dir, cas=False, log=print, measure_missing=True):
    """Verifies ``version_dir`` and returns its metrics (measured now when missing or for CAS)."""
    manifest = verify_version(version_dir)
    parity = manifest.get("parity") or {}
    quality = manifest.get("quality")
    if (quality is None and measure_missing) or cas:
        from export.runtimes import OnnxRuntime

        quality = measure_quality(OnnxRuntime(version_dir).generate, cas=cas, log=log)
    return {
        "version": manifest["version"],
        "model_name": manifest.get("model_name"),
        "created": manifest.get("created"),
        "training": {k: manifest["training"][k] for k in ("step", "checkpoint")}
        | {"preset": manifest["training"]["config"]["preset"]},
        "quality": quality,
        "blessing": manifest.get("blessing"),
        "parity_max_abs_diff": parity.get("max_abs_diff"),
        "parity_atol": parity.get("atol"),
        "bad_inputs_refused": {k: len(v) for k, v in parity.get("bad_inputs_refused", {}).items()},
    }
