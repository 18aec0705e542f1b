"""Shared fixtures: a tiny training config and quiet TensorFlow logs."""

import dataclasses
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import pytest  # noqa: E402

from model_pkg import config as config_lib  # noqa: E402


@pytest.fixture
def tiny_config():
    """The seed model with a batch and step count small enough for a test."""
    return dataclasses.replace(config_lib.SEED, batch_size=8, steps=4, checkpoint_every=2,
                               log_every=1, sample_every=2, keep_checkpoints=2)


@pytest.fixture(scope="session")
def trained_workdir(tmp_path_factory):
    """A workdir with a 3-step run of the seed model at batch 8 (shared, read-only)."""
    from model_pkg.train import train_and_evaluate

    workdir = tmp_path_factory.mktemp("trained") / "run"
    cfg = dataclasses.replace(config_lib.SEED, batch_size=8, steps=3, checkpoint_every=3)
    train_and_evaluate(cfg, str(workdir), progress=False, log=lambda *_: None)
    return str(workdir)


@pytest.fixture(scope="session")
def published(trained_workdir, tmp_path_factory):
    """(models_dir, version_dir) of one version exported from ``trained_workdir`` (read-only)."""
    from model_pkg.export.exporter import export_from_workdir

    models_dir = str(tmp_path_factory.mktemp("models"))
    # A 3-step model can never pass the quality gate: tests/export/test_blessing.py covers it.
    return models_dir, export_from_workdir(trained_workdir, models_dir, log=lambda *_: None,
                                           quality=False)


@pytest.fixture(scope="session")
def refused_version(trained_workdir, tmp_path_factory):
    """A version of ``trained_workdir`` whose model.int8.onnx failed its own gate (a
    tolerance no int8 file meets): published without it, the reason in its manifest."""
    from model_pkg.export import quantize
    from model_pkg.export.exporter import export_from_workdir

    models = str(tmp_path_factory.mktemp("int8_refused"))
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(quantize, "TOLERANCE", quantize.Tolerance(max_abs=1e-6, mean_abs=1e-7))
        return export_from_workdir(trained_workdir, models, log=lambda *_: None, quality=False)


@pytest.fixture(scope="session")
def published_default(tmp_path_factory):
    """(models_dir, version_dir) of a 3-step run of the default preset at batch 8, exported
    (read-only): its generator uses the fast layers, so the exporter's rewrites meet them."""
    from model_pkg.export.exporter import export_from_workdir
    from model_pkg.train import train_and_evaluate

    workdir = tmp_path_factory.mktemp("trained_default") / "run"
    cfg = dataclasses.replace(config_lib.DEFAULT, batch_size=8, steps=3, checkpoint_every=3)
    train_and_evaluate(cfg, str(workdir), progress=False, log=lambda *_: None)
    models_dir = str(tmp_path_factory.mktemp("models_default"))
    return models_dir, export_from_workdir(str(workdir), models_dir, log=lambda *_: None,
                                           quality=False)


@pytest.fixture
def version_copy(published, tmp_path):
    """A private copy of the published version, free to damage."""
    import shutil

    target = tmp_path / "cgan" / "1"
    shutil.copytree(published[1], target)
    return target


def standin_config(tmp_path_factory):
    """A private copy of serving/config/ (the folder compose mounts at /config)."""
    import shutil

    from model_pkg.serving.config_files import CONFIG_DIR

    target = tmp_path_factory.mktemp("config") / "config"
    shutil.copytree(CONFIG_DIR, target)
    return str(target)


@pytest.fixture(scope="session")
def standin(published, tmp_path_factory):
    """The TF Serving stand-in (a test fixture, not TF Serving), started from the shipped
    docker-compose.yml service over ``published`` and a copy of serving/config/."""
    from tests.serving.standin import StandIn, shipped_compose

    server = StandIn.from_compose(shipped_compose(), env={
        "MODELS_DIR": published[0], "TF_SERVING_CONFIG_DIR": standin_config(tmp_path_factory)})
    yield server
    server.close()


@pytest.fixture
def fresh_standin(standin):
    """The shared stand-in with faults cleared before and after a test."""
    standin.inject()
    yield standin
    standin.inject()
