"""Which ONNX file of a version runs at a requested precision.

    float  model.onnx, the reference: exact (the 1e-5 parity holds for it); the default.
    int8   model.int8.onnx (export/quantize.py), refused when the version does not carry
           it, quoting the manifest's reason.
    bf16   OpenVINO on model.onnx at bfloat16 (export/openvino_bf16.py), offered only where
           the export measured and gated it, and OpenVINO is installed here.
    fast   the fastest of the paths the version offers (float always among them): one
           path when only float is offered, else measured per batch size on first use
           (export/fast_path.py).
"""

import hashlib
import os

from model_pkg import contract
from model_pkg.export.manifest import IntegrityError
from model_pkg.export.quantize import INT8_NAME

PRECISIONS = ("float", "int8", "bf16", "fast")
DEFAULT = "float"
# The order "fast" probes the offered paths in (the first wins a tie).
FAST_ORDER = ("int8", "bf16", "float")
FILES = {"float": contract.ONNX_NAME, "int8": INT8_NAME, "bf16": contract.ONNX_NAME}
RECORDS = {"int8": "int8", "bf16": "openvino_bf16"}   # reduced_precision keys


class PrecisionUnavailable(ValueError):
    """The version does not offer the requested precision; the message says why."""


def check_precision(precision, what="precision"):
    """``precision`` if it is one of PRECISIONS (None: DEFAULT); ValueError naming the rule."""
    if precision is None:
        return DEFAULT
    if precision not in PRECISIONS:
        raise ValueError(f"{what} {precision!r}: must be one of {', '.join(PRECISIONS)} "
                         f"(float is model.onnx, exact; docs/speed.md)")
    return precision


def offered(manifest):
    """{precision: reason or None}: None where the version offers the path, else why not."""
    reasons = {"float": None}
    for precision, key in RECORDS.items():
        entry = (manifest.get("reduced_precision") or {}).get(key)
        if entry is None:
            reasons[precision] = (f"the version has no reduced_precision record for {key} "
                                  f"(exported before that path existed)")
        elif not (entry.get("published") or entry.get("offered")) or (
                FILES[precision] not in manifest["files"]):
            reasons[precision] = entry.get("reason") or "not published"
        else:
            reasons[precision] = None
    if reasons["bf16"] is None and not _has_openvino():
        reasons["bf16"] = "OpenVINO is not installed here (pip install 'model-pkg[openvino]')"
    return reasons


def _has_openvino():
    import importlib.util

    return importlib.util.find_spec("openvino") is not None


def fast_candidates(manifest):
    """The precisions "fast" chooses among, in FAST_ORDER: every offered path."""
    reasons = offered(manifest)
    return [p for p in FAST_ORDER if reasons[p] is None]


def choose(manifest, precision, where):
    """The path to run: (precision used, file name) for ``precision`` on the version at
    ``where`` (its folder, for messages); "fast" with several offered paths stays "fast"
    (file None). PrecisionUnavailable for a path the version does not offer."""
    precision = check_precision(precision)
    if precision == "fast":
        candidates = fast_candidates(manifest)
        return (candidates[0], FILES[candidates[0]]) if len(candidates) == 1 else ("fast", None)
    reason = offered(manifest)[precision]
    if reason is not None:
        what = FILES[precision] if precision != "bf16" else "OpenVINO bf16"
        raise PrecisionUnavailable(f"{where}: precision {precision!r} is not offered by this "
                                   f"version: {what} {reason}")
    return precision, FILES[precision]


def record(manifest, precision):
    """What the manifest says about the path: {"precision", "file", "difference",
    "tolerance"} (float: exact by the parity gate, atol contract.PARITY_ATOL; fast: the
    record of each candidate under "paths")."""
    if precision == "fast":
        return {"precision": "fast", "paths": {p: record(manifest, p)
                                               for p in fast_candidates(manifest)}}
    if precision == "float":
        return {"precision": "float", "file": contract.ONNX_NAME,
                "difference": manifest.get("parity", {}).get("max_abs_diff"),
                "tolerance": {"max_abs": contract.PARITY_ATOL}}
    entry = manifest["reduced_precision"][RECORDS[precision]]
    out = {"precision": precision, "file": FILES[precision],
           "difference": entry["difference"], "tolerance": entry["tolerance"]}
    if precision == "bf16":
        out |= {"runtime": "openvino", "measured_on": entry["cpu"]}
    return out


def verified_bytes(version_dir, manifest, name):
    """The bytes of ``name`` in ``version_dir``, checked against the manifest's digest as
    read (what is loaded is what was verified, even if the file changes afterwards)."""
    path = os.path.join(version_dir, name)
    with open(path, "rb") as handle:
        data = handle.read()
    if hashlib.sha256(data).hexdigest() != manifest["files"].get(name):
        raise IntegrityError(f"{path}: sha256 does not match the manifest")
    return data
