"""Reduced precision: ``model.int8.onnx`` beside ``model.onnx``, gated on its own.

ONNX Runtime's static quantizer (onnxruntime.quantization.quantize_static) turns
the staged float file's convolutions into QLinearConv: uint8 activations
calibrated on a few batches of training-distributed inputs (standard normal
noise, labels cycling 0..9, a fixed seed), int8 weights per output channel,
QOperator format. Only the convolutions: they are nearly all the work, and the
configurations measured slower (QDQ, int8 activations, the Gemm too) are in
docs/speed.md, "Reduced precision".

The file is published only if (1) its pixels stay within ``TOLERANCE`` of
model.onnx on the parity golden inputs and on a larger random draw, and (2)
when the export measures quality, its own metrics pass the blessing policy with
the float file's metrics as the baseline (export/blessing.py decide). A refusal
drops the file, not the version; the manifest's ``reduced_precision`` record
says why. model.onnx stays the reference the 1e-5 parity holds for.
"""

import dataclasses
import logging
import os

import numpy as np

from model_pkg import contract

INT8_NAME = "model.int8.onnx"
CALIBRATION_BATCHES = 4      # x CALIBRATION_BATCH rows: min/max settle well before that
CALIBRATION_BATCH = 64
CALIBRATION_SEED = 28
RANDOM_DRAW_ROWS = 1024      # the difference check beyond the golden inputs
RANDOM_DRAW_SEED = 29


@dataclasses.dataclass(frozen=True)
class Tolerance:
    """Largest accepted |int8 - float| pixel difference (pixels in [0, 1]); why these
    values: docs/artifacts.md, "Reduced precision"."""
    max_abs: float = 0.5
    mean_abs: float = 0.02


TOLERANCE = Tolerance()


def calibration_feeds(batches=CALIBRATION_BATCHES, batch=CALIBRATION_BATCH,
                      seed=CALIBRATION_SEED):
    """[{"label": int32 [batch] cycling 0..9, "noise": float32 [batch, 100] N(0, 1)}]:
    the training distribution (model_pkg/gan.py sample_inputs), labels balanced."""
    rng = np.random.default_rng(seed)
    labels = (np.arange(batch) % contract.NUM_CLASSES).astype(np.int32)
    return [{contract.LABEL_KEY: labels,
             contract.NOISE_KEY: rng.standard_normal((batch, contract.NOISE_DIM))
             .astype(np.float32)} for _ in range(batches)]


def write_int8(float_path, out_path):
    """Writes the static int8 copy of ``float_path`` to ``out_path``; returns its settings."""
    from onnxruntime.quantization import (
        CalibrationDataReader,
        QuantFormat,
        QuantType,
        quantize_static,
    )

    class Reader(CalibrationDataReader):
        def __init__(self):
            self.feeds = iter(calibration_feeds())

        def get_next(self):
            return next(self.feeds, None)

    # The quantizer advises pre-processing (shape inference) on the root logger at every call;
    # the staged graph already has static shapes, so the advice would only add noise to
    # every export's output.
    advice = _DropAdvice()
    logging.getLogger().addFilter(advice)
    try:
        quantize_static(float_path, out_path, Reader(), quant_format=QuantFormat.QOperator,
                        op_types_to_quantize=["Conv"], per_channel=True,
                        activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8)
    finally:
        logging.getLogger().removeFilter(advice)
    return {"method": "onnxruntime.quantization.quantize_static", "format": "QOperator",
            "ops": ["Conv"], "activations": "uint8 (per tensor, MinMax)",
            "weights": "int8 (per channel, symmetric)",
            "calibration": {"batches": CALIBRATION_BATCHES, "rows_per_batch": CALIBRATION_BATCH,
                            "seed": CALIBRATION_SEED,
                            "inputs": "noise N(0, 1) float32 [N, 100], labels cycling 0..9"}}


class _DropAdvice(logging.Filter):
    def filter(self, record):
        return "pre-processing before quantization" not in record.getMessage()


def difference_inputs():
    """{"golden": the parity golden inputs (export/parity.py), "random_draw": RANDOM_DRAW_ROWS
    random rows}: where every reduced path's pixel difference is measured, as
    [(label, noise)] lists."""
    from model_pkg.export.parity import golden_inputs

    rng = np.random.default_rng(RANDOM_DRAW_SEED)
    draw = [(rng.integers(0, contract.NUM_CLASSES, RANDOM_DRAW_ROWS).astype(np.int32),
             rng.standard_normal((RANDOM_DRAW_ROWS, contract.NOISE_DIM)).astype(np.float32))]
    return {"golden": golden_inputs(), "random_draw": draw}


def measure_difference(float_path, int8_path):
    """{"golden": {...}, "random_draw": {...}}: max and mean |int8 - float| pixels on
    difference_inputs()."""
    import onnxruntime as ort

    sessions = [ort.InferenceSession(p, providers=["CPUExecutionProvider"])
                for p in (float_path, int8_path)]
    out = {}
    for name, inputs in difference_inputs().items():
        diffs = np.concatenate([np.abs(_run(sessions[1], y, z) - _run(sessions[0], y, z))
                                .ravel() for y, z in inputs])
        out[name] = {"rows": sum(len(y) for y, _ in inputs), "max_abs": float(diffs.max()),
                     "mean_abs": float(diffs.mean())}
    return out


def _run(session, label, noise):
    return session.run(None, {contract.LABEL_KEY: label, contract.NOISE_KEY: noise})[0]


def difference_reasons(difference, tolerance):
    """Every tolerance the measured difference breaks, as sentences (empty: within)."""
    reasons = []
    for where, measured in difference.items():
        for key in ("max_abs", "mean_abs"):
            limit = getattr(tolerance, key)
            if measured[key] > limit:
                reasons.append(f"{where} {key.replace('_', ' ')} pixel difference "
                               f"{measured[key]:.4f}, must be <= {limit}")
    return reasons


def quality_gate(int8_quality, float_quality):
    """The blessing decision for the int8 file: the policy's thresholds, and no worse than
    the float file (the baseline) beyond its tolerances."""
    from model_pkg.export.blessing import decide

    return decide(int8_quality, float_quality)


def add_int8(staging, float_quality, log=print, tolerance=None):
    """Writes ``model.int8.onnx`` into ``staging`` if it passes; returns the manifest's
    ``reduced_precision`` record ({"int8": {...}}), which says why when it does not.

    ``float_quality``: model.onnx's metrics, or None when the export skips quality (the
    difference is then checked and the record says the quality was not measured).
    ``tolerance``: a Tolerance (default ``TOLERANCE``).
    """
    import tempfile
    import time

    tolerance = tolerance or TOLERANCE
    began = time.perf_counter()
    float_path = os.path.join(staging, contract.ONNX_NAME)
    # A scratch folder inside staging: the candidate joins the version only if it passes, and
    # a killed export's leftovers go with its staging folder (publish.clean_stale_staging).
    with tempfile.TemporaryDirectory(dir=staging) as scratch:
        candidate = os.path.join(scratch, INT8_NAME)
        record = {"file": INT8_NAME, "settings": write_int8(float_path, candidate),
                  "tolerance": dataclasses.asdict(tolerance),
                  "difference": measure_difference(float_path, candidate),
                  "quality": None, "quality_gate": None}
        reasons = difference_reasons(record["difference"], tolerance)
        if not reasons and float_quality is not None:
            record["quality"], record["quality_gate"] = _measure_and_gate(candidate,
                                                                          float_quality, log)
            reasons = record["quality_gate"]["reasons"]
        record["published"] = not reasons
        record["reason"] = offer_reason(reasons, float_quality is None)
        if record["published"]:
            os.replace(candidate, os.path.join(staging, INT8_NAME))
    record["seconds"] = round(time.perf_counter() - began, 3)
    worst = record["difference"]["random_draw"]
    log(f"{INT8_NAME}: {'published' if record['published'] else 'NOT published'} "
        f"(max / mean pixel difference {worst['max_abs']:.3f} / {worst['mean_abs']:.4f}; "
        f"{record['reason']})")
    return {"int8": record}


def _measure_and_gate(int8_path, float_quality, log):
    """(int8 metrics, blessing decision against the float file's metrics)."""
    from model_pkg.eval import measure_quality
    from model_pkg.export.runtimes import OnnxRuntime

    metrics = measure_quality(OnnxRuntime(int8_path, verify=False).generate, log=log)
    return metrics, quality_gate(metrics, float_quality)


def offer_reason(reasons, quality_skipped):
    """The record's one-line reason: the refusals, or what was checked."""
    if reasons:
        return "refused: " + "; ".join(reasons)
    if quality_skipped:
        return ("difference within tolerance; quality NOT measured (export ran with quality "
                "evaluation disabled)")
    return "difference within tolerance; quality passes the gate against model.onnx"
