"""A version's metrics as JSON (quality metrics arrive with the quality issue)."""

from export.manifest import verify_version


def version_metrics(version_dir):
    """Verifies ``version_dir`` and returns what its manifest measured."""
    manifest = verify_version(version_dir)
    parity = manifest.get("parity") or {}
    return {
        "version": manifest["version"],
        "model_name": manifest.get("model_name"),
        "created": manifest.get("created"),
        "training": {k: manifest["training"][k] for k in ("step", "checkpoint")}
        | {"preset": manifest["training"]["config"]["preset"]},
        "parity_max_abs_diff": parity.get("max_abs_diff"),
        "parity_atol": parity.get("atol"),
        "bad_inputs_refused": {k: len(v) for k, v in parity.get("bad_inputs_refused", {}).items()},
        "quality": manifest.get("quality"),   # None until the quality evaluator lands
    }
