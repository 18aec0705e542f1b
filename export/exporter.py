"""export_from_workdir: the newest checkpoint of a workdir -> a published version.

Order: build every file in a staging folder, prove parity there (refusing to
publish on failure), then under the publish lock number it, stamp the ONNX
metadata and the manifest, fsync and rename into place.
"""

import dataclasses
import datetime
import importlib.metadata
import json
import os
import platform
import subprocess
import time

from model_pkg import checkpoint, contract
from model_pkg.export import artifacts, openvino_bf16, parity, publish, quantize, signing
from model_pkg.export.manifest import MANIFEST_FORMAT, file_digests, manifest_digest, write_manifest
from model_pkg.export.runtime_onnx import OnnxRuntime
from model_pkg.export.tf_c_api import replay_warmup
from model_pkg.fileio import atomic_write_json
from model_pkg.paths import SOURCE_DIR, default_models_dir


class ExportError(RuntimeError):
    """The workdir has nothing to export."""


def load_trained_generator(workdir):
    """(generator, config, checkpoint meta, checkpoint folder) from the newest valid checkpoint."""
    from model_pkg.config import load_saved_config
    from model_pkg.gan import build_gan

    config = load_saved_config(workdir)
    found = checkpoint.latest_valid(workdir)
    if config is None or found is None:
        raise ExportError(f"{workdir}: no training run with a checkpoint to export "
                          "(run `model-pkg train --workdir DIR` first)")
    step, folder, meta = found
    # Exported graphs compute in float32 whatever the training compute dtype
    # (the weights are float32 either way), so every runtime can agree to 1e-5.
    gan = build_gan(dataclasses.replace(config, compute_dtype="float32"))
    checkpoint.restore(folder, gan.state_variables())
    return gan.generator, config, meta, folder


def choose_onnx_builder(generator, config):
    """{"builder": "rewritten" or "tf2onnx", "reason": why}: export/onnx_graph.py's fast graph
    where it mirrors ``generator`` (onnx_graph.supports), else tf2onnx's straight conversion;
    either passes the same parity gate (check_staging)."""
    from model_pkg.export import onnx_graph

    supported, reason = onnx_graph.supports(generator, config)
    return {"builder": "rewritten" if supported else "tf2onnx", "reason": reason}


def build_staging(generator, staging, config, builder="rewritten"):
    """Writes SavedModel, warmup and ONNX (by ``builder``, one of artifacts.ONNX_BUILDERS)
    into ``staging``; returns timings in seconds."""
    timings = {}
    for name, write in (("savedmodel", lambda: artifacts.write_savedmodel(generator, staging)),
                        ("warmup", lambda: artifacts.write_warmup(staging)),
                        ("onnx", lambda: artifacts.write_onnx(
                            generator, os.path.join(staging, contract.ONNX_NAME), config,
                            builder))):
        began = time.perf_counter()
        write()
        timings[name] = round(time.perf_counter() - began, 3)
    return timings


def check_staging(generator, staging):
    """Parity of the registry's parity runtimes (model_pkg/runtimes.py) on the staged
    files, refusal of every bad input, and the warmup records replayed.

    The C-API runtime is TF Serving's own loader (tensorflow::LoadSavedModel):
    a version that passes here loads, warms up and runs there. It costs about 0.2 s.
    """
    opened = parity.open_runtimes(generator, staging)
    try:
        report = parity.compare(parity.run_golden(list(opened.values())))
        report["warmup_records_replayed"] = len(replay_warmup(opened["savedmodel_c_api"],
                                                              staging))
        report["bad_inputs_refused"] = parity.check_refusals(parity.refusal_callers(opened))
    finally:
        parity.close_runtimes(opened)
    report["passed"] = True
    return report


def library_versions():
    """Versions of everything that shaped the artifacts."""
    import keras
    import numpy
    import onnx
    import onnxruntime
    import tensorflow

    # The default ONNX builder does not use tf2onnx; importing it only for its version would
    # load its converters (and their TensorFlow graph imports) on every export.
    return {"python": platform.python_version(), "tensorflow": tensorflow.__version__,
            "keras": keras.__version__, "tf2onnx": importlib.metadata.version("tf2onnx"),
            "onnx": onnx.__version__, "onnxruntime": onnxruntime.__version__,
            "numpy": numpy.__version__}


def git_commit():
    """The package source's git commit (with a +dirty mark); None when the source is not the
    top of a git checkout (an installed wheel)."""
    def git(*args):
        return subprocess.run(["git", "-C", SOURCE_DIR, *args], capture_output=True, text=True,
                              timeout=10, check=True).stdout.strip()

    try:
        if os.path.realpath(git("rev-parse", "--show-toplevel")) != os.path.realpath(SOURCE_DIR):
            return None
        head, dirty = git("rev-parse", "HEAD"), git("status", "--porcelain",
                                                    "--untracked-files=no")
    except (OSError, subprocess.SubprocessError):
        return None
    return head + ("+dirty" if dirty else "")


def _finalizer(fields, signing_key=None):
    """finalize(staging, version) for publish(): ONNX metadata, the manifest, its signature."""
    def finalize(staging, version):
        manifest = dict(fields, version=version,
                        created=datetime.datetime.now(datetime.timezone.utc).isoformat())
        manifest["files"] = file_digests(staging)
        digest = manifest_digest(manifest)
        artifacts.set_onnx_metadata(os.path.join(staging, contract.ONNX_NAME), {
            "model_name": contract.MODEL_NAME, "version": version, "manifest_digest": digest,
            "signature": json.dumps(contract.signature_description(), sort_keys=True)})
        written = write_manifest(staging, {k: v for k, v in manifest.items() if k != "files"})
        if written["digest"] != digest:   # model.onnx is the only file that changed
            raise RuntimeError("manifest digest moved while stamping model.onnx")
        if signing_key is not None:   # still in staging: the signed manifest appears whole
            atomic_write_json(os.path.join(staging, contract.MANIFEST_NAME),
                              signing.sign(written, signing_key))
    return finalize


def export_from_workdir(workdir, models_dir=None, log=print, quality=True, force_reason=None,
                        baseline="newest", signing_key=None):
    """Publishes the next version from ``workdir``'s newest checkpoint; returns its folder.

    With ``quality`` the candidate's digits are measured and blessed against
    ``baseline`` (a version, "newest" or None; export/blessing.py) first;
    ``force_reason`` publishes a failing candidate anyway, loudly, and records why.
    ``signing_key`` (a path; default $MODEL_PKG_SIGNING_KEY) signs the manifest.
    """
    began = time.perf_counter()
    signing_key = signing_key or os.environ.get(signing.SIGNING_KEY_ENV)
    private_key = signing.load_private_key(signing_key) if signing_key else None
    generator, config, meta, folder = load_trained_generator(workdir)
    root = publish.model_root(models_dir or default_models_dir())
    os.makedirs(root, exist_ok=True)
    for name in publish.clean_stale_staging(root):
        log(f"removed leftover {name} of an interrupted export")
    with publish.staging_dir(root) as staging:
        onnx_builder = choose_onnx_builder(generator, config)
        log(f"model.onnx by {onnx_builder['builder']}: {onnx_builder['reason']}")
        timings = build_staging(generator, staging, config, onnx_builder["builder"])
        began_parity = time.perf_counter()
        report = check_staging(generator, staging)
        timings["parity"] = round(time.perf_counter() - began_parity, 3)
        began_quality = time.perf_counter()
        metrics, blessing_record = _quality_gate(staging, root, quality, force_reason, log,
                                                 baseline)
        timings["quality"] = round(time.perf_counter() - began_quality, 3)
        # After the float file's checks: a reduced path that fails its own gate is left out.
        reduced = quantize.add_int8(staging, metrics, log)
        reduced |= openvino_bf16.add_openvino_bf16(staging, metrics, log)
        fields = _manifest_fields(config, meta, folder, report, timings, onnx_builder)
        fields |= {"quality": metrics, "blessing": blessing_record, "reduced_precision": reduced}
        version, path = publish.publish(root, staging, _finalizer(fields, private_key))
    log(f"published version {version} in {time.perf_counter() - began:.1f} s "
        f"(max parity difference {max(report['max_abs_diff'].values()):.2e})")
    return path


def _quality_gate(staging, root, quality, force_reason, log, baseline):
    """(metrics or None, blessing record); raises BlessingError for a refused candidate."""
    if not quality:
        log("WARNING: quality evaluation skipped; this version is not blessed")
        return None, {"blessed": False, "skipped": True,
                      "reason": "export ran with quality evaluation disabled"}
    from model_pkg.eval import measure_quality
    from model_pkg.export.blessing import bless

    runtime = OnnxRuntime(os.path.join(staging, contract.ONNX_NAME), verify=False)
    metrics = measure_quality(runtime.generate, log=log)
    log("quality (docs/quality.md): label accuracy {label_accuracy:.4f} (the evaluator on real "
        "test digits: {real_accuracy:.4f}), Fréchet {frechet_fair_ratio:.2f}x the fair floor "
        "({frechet_ratio:.2f}x the random one), coverage {coverage_fair_ratio:.3f}x real, "
        "evaluator entropy {entropy_ratio:.2f}x real".format(**metrics))
    return metrics, bless(metrics, root, baseline, force_reason, log)


_BUILDER_SOURCES = {"rewritten": "rewritten (export/onnx_graph.py)",
                    "tf2onnx": "tf2onnx (export/artifacts.py)"}


def _manifest_fields(config, meta, folder, report, timings, onnx_builder):
    return {
        "format": MANIFEST_FORMAT, "model_name": contract.MODEL_NAME,
        "signature": contract.signature_description(),
        "onnx": {"opset": artifacts.ONNX_OPSET, "file": contract.ONNX_NAME,
                 "builder": _BUILDER_SOURCES[onnx_builder["builder"]],
                 "builder_reason": onnx_builder["reason"]},
        "libraries": library_versions(), "git_commit": git_commit(),
        "training": {"config": config.to_dict(), "step": meta["step"],
                     "checkpoint": os.path.basename(folder),
                     "checkpoint_state_sha256": meta["state_sha256"]},
        "data": {"sha256": meta.get("data_sha256"), "source": meta.get("data_source")},
        "parity": report, "export_seconds": timings,
    }
