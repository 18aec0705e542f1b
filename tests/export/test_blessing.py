"""The quality gate: a worse model is refused, --force publishes it loudly with a reason."""

import json
import os
import subprocess
import sys

import pytest

from model_pkg.export import blessing, exporter
from model_pkg.export.blessing import BlessingError, BlessingPolicy, decide
from model_pkg.export.manifest import verify_version
from model_pkg.export.publish import list_versions, model_root

SEED_LIKE = {"label_accuracy": 0.999, "worst_label_accuracy": 0.998, "frechet_ratio": 3.7,
             "coverage_ratio": 0.89}


def test_a_seed_like_model_is_blessed_with_or_without_a_baseline():
    assert decide(SEED_LIKE, None)["blessed"]
    assert decide(SEED_LIKE, SEED_LIKE)["blessed"]


@pytest.mark.parametrize("change, reason", [
    ({"label_accuracy": 0.9}, "label accuracy 0.9000, must be >= 0.98"),
    ({"worst_label_accuracy": 0.5}, "worst-label accuracy"),
    ({"frechet_ratio": 9.0}, "Fréchet ratio 9.0000, must be <= 6.0"),
    ({"coverage_ratio": 0.5}, "coverage ratio 0.5000, must be >= 0.8"),
])
def test_absolute_thresholds(change, reason):
    result = decide(SEED_LIKE | change, None)
    assert not result["blessed"] and any(reason in r for r in result["reasons"])


@pytest.mark.parametrize("change, reason", [
    ({"label_accuracy": 0.992}, "label accuracy vs baseline"),
    ({"frechet_ratio": 3.7 * 1.2}, "Fréchet ratio vs baseline"),
    ({"coverage_ratio": 0.85}, "coverage ratio vs baseline"),
])
def test_no_worse_than_the_baseline_beyond_tolerance(change, reason):
    result = decide(SEED_LIKE | change, SEED_LIKE)
    assert not result["blessed"] and any(reason in r for r in result["reasons"])
    assert decide(SEED_LIKE | change, None, BlessingPolicy())["blessed"]   # fine on its own


@pytest.fixture(scope="module")
def refused_then_forced(trained_workdir, tmp_path_factory):
    """Exports the 3-step model with the gate on: refused, then forced (trains the evaluator
    once, about 100 s here; later runs reuse artifacts/evaluator)."""
    models = str(tmp_path_factory.mktemp("blessing"))
    with pytest.raises(BlessingError) as refused:
        exporter.export_from_workdir(trained_workdir, models, log=lambda *_: None)
    versions_after_refusal = list_versions(model_root(models))
    lines = []
    forced = exporter.export_from_workdir(trained_workdir, models, log=lines.append,
                                          force_reason="test: a deliberately bad model")
    return refused.value, versions_after_refusal, forced, lines


def test_a_deliberately_worse_model_is_refused(refused_then_forced):
    error, versions, _, _ = refused_then_forced
    assert "fails the quality gate" in str(error) and "label accuracy" in str(error)
    assert versions == []   # nothing was published


def test_force_publishes_loudly_and_records_why(refused_then_forced):
    _, _, forced, lines = refused_then_forced
    manifest = verify_version(forced)
    assert manifest["blessing"]["forced"] is True and not manifest["blessing"]["blessed"]
    assert manifest["blessing"]["force_reason"] == "test: a deliberately bad model"
    assert manifest["quality"]["samples"] == 10_000
    assert manifest["quality"]["evaluator"]["test_accuracy"] >= 0.992
    assert any(line.startswith("WARNING: publishing a version that FAILS") for line in lines)


def test_a_forced_versions_int8_file_is_gated_on_its_own(refused_then_forced):
    """--force covers model.onnx only: the int8 file's own metrics fail the policy, so the
    version is published without it and the manifest says why."""
    manifest = verify_version(refused_then_forced[2])
    record = manifest["reduced_precision"]["int8"]
    assert not record["published"] and "model.int8.onnx" not in manifest["files"]
    assert record["quality"]["samples"] == 10_000 and not record["quality_gate"]["blessed"]
    assert record["reason"].startswith("refused: label accuracy")


def test_evaluate_prints_the_manifest_metrics(refused_then_forced):
    forced = refused_then_forced[2]
    out = subprocess.run([sys.executable, "-m", "model_pkg", "evaluate", forced],
                         capture_output=True, text=True, timeout=600,
                         env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"))
    assert out.returncode == 0, out.stderr
    metrics = json.loads(out.stdout)
    assert metrics["quality"] == verify_version(forced)["quality"]
    assert metrics["blessing"]["forced"] is True


def test_the_baseline_is_passed_in(refused_then_forced):
    forced = refused_then_forced[2]
    root, number = os.path.dirname(forced), int(os.path.basename(forced))
    version, quality = blessing.find_baseline(root, number)
    assert version == number and quality["samples"] == 10_000
    assert blessing.find_baseline(root, "newest")[0] == number
    assert blessing.find_baseline(root, None) == (None, None)


def test_the_cli_resolves_a_serving_label_to_its_version():
    from model_pkg import cli

    assert cli._baseline("stable") == 1 and cli._baseline("7") == 7
    assert cli._baseline("newest") == "newest" and cli._baseline("none") is None
    with pytest.raises(ValueError, match="not a version, 'newest', 'none' or a label"):
        cli._baseline("nope")


def _fake_version(root, number, key=None):
    """A version folder with placeholder files, quality metrics and (with ``key``) signed."""
    from model_pkg import contract
    from model_pkg.export import signing
    from model_pkg.export.manifest import REQUIRED_FILES, write_manifest
    from model_pkg.fileio import atomic_write_json

    folder = os.path.join(root, str(number))
    for rel in REQUIRED_FILES:
        os.makedirs(os.path.dirname(os.path.join(folder, rel)), exist_ok=True)
        with open(os.path.join(folder, rel), "w") as handle:
            handle.write(rel)
    manifest = write_manifest(folder, {
        "version": number, "signature": contract.signature_description(),
        "quality": SEED_LIKE | {"label_accuracy": 0.99 + number / 1000},
        "training": {"step": number, "checkpoint": f"ckpt-{number}", "config": {}}})
    if key is not None:
        atomic_write_json(os.path.join(folder, contract.MANIFEST_NAME),
                          signing.sign(manifest, signing.load_private_key(key)))


def test_a_newest_version_that_fails_verification_stops_the_gate_naming_it(tmp_path,
                                                                           monkeypatch):
    from model_pkg.export import signing

    signing.generate_key_pair(str(tmp_path / "k.pem"), str(tmp_path / "k.pub.pem"))
    root = str(tmp_path / "cgan")
    _fake_version(root, 1, key=str(tmp_path / "k.pem"))
    _fake_version(root, 2)                       # unsigned: fails under trusted keys
    assert blessing.find_baseline(root)[0] == 2  # no keys configured: 2 is the baseline
    monkeypatch.setenv(signing.TRUSTED_KEYS_ENV, str(tmp_path / "k.pub.pem"))
    with pytest.raises(BlessingError, match="version 2, the newest candidate .*fails "
                                            "verification.*not signed.*--baseline"):
        blessing.find_baseline(root)
    assert blessing.find_baseline(root, 1)[0] == 1   # an explicit baseline still works
    with pytest.raises(BlessingError, match="version 2, .*fails verification"):
        blessing.bless(SEED_LIKE, root, log=lambda *_: None)


def test_a_newest_version_without_metrics_is_skipped_out_loud(tmp_path):
    root = str(tmp_path / "cgan")
    _fake_version(root, 1)
    _fake_version(root, 2)
    path = os.path.join(root, "2", "manifest.json")
    manifest = json.load(open(path))
    manifest["quality"] = None
    from model_pkg.export.manifest import write_manifest

    write_manifest(os.path.join(root, "2"), {k: v for k, v in manifest.items()
                                             if k not in ("files", "digest")})
    lines = []
    assert blessing.find_baseline(root, log=lines.append)[0] == 1
    assert any("version 2 has no quality metrics" in line for line in lines)


@pytest.mark.parametrize("baseline", [True, False, 0, -1, "x"])
def test_a_baseline_that_is_not_a_version_number_is_refused(tmp_path, baseline):
    root = str(tmp_path / "cgan")
    _fake_version(root, 1)
    with pytest.raises(BlessingError, match=f"baseline {baseline!r}: must be a version "
                                            r"number >= 1, 'newest' or None"):
        blessing.find_baseline(root, baseline)


def test_the_cli_baseline_takes_ascii_digits_only():
    from model_pkg import cli

    with pytest.raises(ValueError, match="'²': not a version, 'newest', 'none' or a label"):
        cli._baseline("²")
