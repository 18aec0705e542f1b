"""Which ONNX file of a version runs at a requested precision.

    float  model.onnx, the reference: exact (the 1e-5 parity holds for it); the default.
    int8   model.int8.onnx (export/quantize.py), refused when the version does not carry
           it, quoting the manifest's reason.
    fast   the fastest path the version allows, in FAST_ORDER: model.int8.onnx when the
           version published it, else model.onnx.

OpenVINO at bfloat16 is not a path here: its difference is not measured or gated at
export yet, so nothing offers it (docs/speed.md, "Reduced precision").
"""

import hashlib
import os

from model_pkg import contract
from model_pkg.export.manifest import IntegrityError
from model_pkg.export.quantize import INT8_NAME

PRECISIONS = ("float", "int8", "fast")
DEFAULT = "float"
# "fast" takes the first path the version offers; measured order on the CPUs we run on
# (docs/speed.md): int8 ahead of float at every batch.
FAST_ORDER = ("int8", "float")
FILES = {"float": contract.ONNX_NAME, "int8": INT8_NAME}


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
    record = (manifest.get("reduced_precision") or {}).get("int8")
    if record is None:
        int8 = ("the version has no reduced_precision record (exported before model.int8.onnx "
                "existed)")
    elif not record.get("published") or INT8_NAME not in manifest["files"]:
        int8 = record.get("reason") or "not published"
    else:
        int8 = None
    return {"float": None, "int8": int8}


def choose(manifest, precision, where):
    """The path to run: (precision used, file name) for ``precision`` on the version at
    ``where`` (its folder, for messages); PrecisionUnavailable for an absent int8 file."""
    precision = check_precision(precision)
    reasons = offered(manifest)
    if precision == "fast":
        precision = next(p for p in FAST_ORDER if reasons[p] is None)
    elif reasons[precision] is not None:
        raise PrecisionUnavailable(f"{where}: precision {precision!r} is not offered by this "
                                   f"version: {FILES[precision]} {reasons[precision]}")
    return precision, FILES[precision]


def record(manifest, precision):
    """What the manifest says about the path: {"precision", "file", "difference",
    "tolerance"} (float: exact by the parity gate, atol contract.PARITY_ATOL)."""
    if precision == "float":
        return {"precision": "float", "file": contract.ONNX_NAME,
                "difference": manifest.get("parity", {}).get("max_abs_diff"),
                "tolerance": {"max_abs": contract.PARITY_ATOL}}
    entry = manifest["reduced_precision"]["int8"]
    return {"precision": precision, "file": FILES[precision],
            "difference": entry["difference"], "tolerance": entry["tolerance"]}


def verified_bytes(version_dir, manifest, name):
    """The bytes of ``name`` in ``version_dir``, checked against the manifest's digest as
    read (what is loaded is what was verified, even if the file changes afterwards)."""
    path = os.path.join(version_dir, name)
    with open(path, "rb") as handle:
        data = handle.read()
    if hashlib.sha256(data).hexdigest() != manifest["files"].get(name):
        raise IntegrityError(f"{path}: sha256 does not match the manifest")
    return data
