"""A version's metrics as JSON (``model-pkg evaluate``); the measuring is model_pkg/eval."""

from model_pkg.eval import measure_quality
from model_pkg.export.manifest import verify_version


def version_metrics(version_dir, cas=False, log=print, measure_missing=True):
    """Verifies ``version_dir`` and returns its metrics (measured now when missing or for CAS)."""
    manifest = verify_version(version_dir)
    parity = manifest.get("parity") or {}
    quality = manifest.get("quality")
    if (quality is None and measure_missing) or cas:
        from model_pkg.export.runtimes import OnnxRuntime

        quality = measure_quality(OnnxRuntime(version_dir).generate, cas=cas, log=log)
    return {
        "version": manifest["version"],
        "model_name": manifest.get("model_name"),
        "created": manifest.get("created"),
        "training": {k: manifest["training"][k] for k in ("step", "checkpoint")}
        | {"preset": manifest["training"]["config"].get("preset")},
        "quality": quality,
        "blessing": manifest.get("blessing"),
        "parity_max_abs_diff": parity.get("max_abs_diff"),
        "parity_atol": parity.get("atol"),
        "bad_inputs_refused": {k: len(v) for k, v in parity.get("bad_inputs_refused", {}).items()},
    }
