"""Fixtures for the serving tests: two published versions, private config folders."""

import shutil

import pytest

from model_pkg.serving.config_files import CONFIG_DIR
from tests.serving.standin import StandIn, shipped_compose


@pytest.fixture(scope="session")
def two_versions(trained_workdir, tmp_path_factory):
    """A models folder with versions 1 and 2 exported from ``trained_workdir`` (read-only)."""
    from model_pkg.export.exporter import export_from_workdir

    models_dir = str(tmp_path_factory.mktemp("two_versions"))
    for _ in range(2):
        export_from_workdir(trained_workdir, models_dir, log=lambda *_: None, quality=False)
    return models_dir


@pytest.fixture
def config_dir(tmp_path):
    """A private copy of serving/config/, free to edit."""
    target = tmp_path / "config"
    shutil.copytree(CONFIG_DIR, target)
    return target


@pytest.fixture
def start_compose():
    """start(models_dir, config_dir) -> the stand-in run from the shipped compose service."""
    servers = []

    def start(models_dir, config):
        server = StandIn.from_compose(shipped_compose(), env={
            "MODELS_DIR": str(models_dir), "TF_SERVING_CONFIG_DIR": str(config)})
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.close()
