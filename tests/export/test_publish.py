"""Versions appear whole, get the next number, are never reused or half-written."""

import os
import shutil
import signal
import subprocess
import sys
import time

import pytest

from model_pkg.export import exporter, parity, publish
from model_pkg.export.manifest import verify_version
from tests.threads import run_in_threads

QUIET = {"log": lambda *_: None, "quality": False}


def test_second_export_is_version_2_and_numbers_are_never_reused(trained_workdir, tmp_path):
    models = str(tmp_path)
    first = exporter.export_from_workdir(trained_workdir, models, **QUIET)
    second = exporter.export_from_workdir(trained_workdir, models, **QUIET)
    assert os.path.basename(first) == "1" and os.path.basename(second) == "2"
    assert verify_version(second)["version"] == 2
    shutil.rmtree(second)   # a user deletes the newest version...
    third = exporter.export_from_workdir(trained_workdir, models, **QUIET)
    assert os.path.basename(third) == "3"   # ...and its number does not come back
    root = publish.model_root(models)
    assert sorted(n for n in os.listdir(root) if not n.startswith(".")) == ["1", "3"]


def test_parity_failure_publishes_nothing(trained_workdir, tmp_path, monkeypatch):
    def fail(outputs, atol=None):
        raise parity.ParityError("onnx vs keras: max |difference| 1 > 1e-05")

    monkeypatch.setattr(parity, "compare", fail)
    with pytest.raises(parity.ParityError):
        exporter.export_from_workdir(trained_workdir, str(tmp_path), **QUIET)
    left = os.listdir(publish.model_root(str(tmp_path)))
    assert publish.list_versions(publish.model_root(str(tmp_path))) == []
    assert not [n for n in left if n.startswith(".staging")]


def test_leftover_staging_of_a_dead_export_is_removed(trained_workdir, tmp_path):
    root = publish.model_root(str(tmp_path))
    # Made by this host and PID namespace (the name says so), by a pid that is gone.
    name = publish.staging_prefix(999999999) + "abc"
    dead = os.path.join(root, name)
    os.makedirs(os.path.join(dead, "variables"))
    lines = []
    path = exporter.export_from_workdir(trained_workdir, str(tmp_path), log=lines.append,
                                        quality=False)
    assert not os.path.exists(dead) and os.path.basename(path) == "1"
    assert any(name in line for line in lines)


def _age(folder, seconds):
    for path in (os.path.join(folder, "variables"), folder):
        os.utime(path, (time.time() - seconds, time.time() - seconds))


@pytest.mark.parametrize("name", [".staging-999999999-0123456789ab-abc",   # another namespace
                                  ".staging-1-0123456789ab-abc",           # pid 1 there
                                  ".staging-999999999-abc"])               # no owner recorded
def test_staging_of_another_pid_namespace_is_judged_by_age_not_by_pid(tmp_path, name):
    # The compose pipeline container and a host export share ./artifacts: a pid
    # from the container means nothing here, dead-looking or not.
    root = str(tmp_path)
    folder = os.path.join(root, name)
    os.makedirs(os.path.join(folder, "variables"))
    assert publish.clean_stale_staging(root) == [] and os.path.isdir(folder)
    _age(folder, publish.FOREIGN_STAGING_MAX_AGE_S - 600)
    assert publish.clean_stale_staging(root) == [] and os.path.isdir(folder)
    _age(folder, publish.FOREIGN_STAGING_MAX_AGE_S + 600)
    assert publish.clean_stale_staging(root) == [name] and not os.path.exists(folder)


def test_the_staging_name_records_this_host_and_pid_namespace(tmp_path):
    with publish.staging_dir(str(tmp_path)) as staging:
        name = os.path.basename(staging)
        assert name.startswith(publish.staging_prefix(os.getpid()))
        assert publish.clean_stale_staging(str(tmp_path)) == []   # alive: kept
    owner = publish.owner_token()
    assert len(owner) == 12 and owner == publish.owner_token()


def test_concurrent_publishes_get_distinct_versions(tmp_path):
    root = publish.model_root(str(tmp_path))
    os.makedirs(root)
    results = []

    def one(_):
        with publish.staging_dir(root) as staging:
            def finalize(folder, version):
                time.sleep(0.05)   # widen the race window
                with open(os.path.join(folder, "v"), "w") as handle:
                    handle.write(str(version))
            results.append(publish.publish(root, staging, finalize)[0])

    errors = run_in_threads(one, 6)
    assert not errors and sorted(results) == [1, 2, 3, 4, 5, 6]
    for version in results:
        with open(os.path.join(root, str(version), "v")) as handle:
            assert handle.read() == str(version)


_EXPORT = ("import sys; from model_pkg.export.exporter import export_from_workdir; "
           "export_from_workdir(sys.argv[1], sys.argv[2], log=lambda *_: None, quality=False)")


def test_export_killed_at_several_moments_leaves_no_half_written_version(
        trained_workdir, tmp_path):
    models = str(tmp_path)
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    for delay in (1.0, 3.0, 4.0, 5.0, 6.0):
        proc = subprocess.Popen([sys.executable, "-c", _EXPORT, trained_workdir, models],
                                env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(delay)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        for version in publish.list_versions(publish.model_root(models)):
            verify_version(os.path.join(publish.model_root(models), str(version)))
    path = exporter.export_from_workdir(trained_workdir, models, **QUIET)
    verify_version(path)
    leftovers = [n for n in os.listdir(publish.model_root(models)) if n.startswith(".staging")]
    assert leftovers == []


def test_a_published_version_is_readable_by_another_user(published):
    # TF Serving runs as nobody in docker-compose.yml: every folder must be
    # world-listable and every file world-readable (mkdtemp/mkstemp give 0700/0600).
    import stat

    for folder, dirs, files in os.walk(published[1]):
        assert os.stat(folder).st_mode & 0o005 == 0o005, folder
        for name in files:
            mode = os.stat(os.path.join(folder, name)).st_mode
            assert mode & stat.S_IROTH, os.path.join(folder, name)


def test_an_atomic_write_keeps_the_mode_it_replaces(tmp_path):
    from model_pkg.fileio import atomic_write_text

    path = tmp_path / "models.config"
    atomic_write_text(str(path), "a")
    assert path.stat().st_mode & 0o777 == 0o644
    path.chmod(0o640)
    atomic_write_text(str(path), "b")
    assert path.stat().st_mode & 0o777 == 0o640 and path.read_text() == "b"


def test_only_ascii_numeric_folders_are_versions(tmp_path):
    # TF Serving takes only ASCII digits as versions; str.isdigit also accepts "²" (which
    # int() refuses) and "١" (which int() reads as 1).
    for name in ("3", "²", "١", "07x"):
        (tmp_path / name).mkdir()
    assert publish.list_versions(str(tmp_path)) == [3]


def test_a_version_published_under_umask_077_is_readable_by_another_uid(trained_workdir):
    """The exporter's umask must not decide whether TF Serving (uid 65534) can read."""
    import tempfile

    base = tempfile.mkdtemp(prefix="umask077-")   # not under pytest's 0700 basetemp
    try:
        os.chmod(base, 0o755)
        code = "import os; os.umask(0o077); " + _EXPORT
        subprocess.run([sys.executable, "-c", code, trained_workdir, base], check=True,
                       env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"), timeout=600)
        version = os.path.join(publish.model_root(base), "1")
        paths = [os.path.join(folder, name) for folder, _, files in os.walk(version)
                 for name in files]
        assert paths and all(os.stat(p).st_mode & 0o004 for p in paths)
        if os.getuid() == 0:   # really read as nobody, as TF Serving does
            for path in paths:
                subprocess.run(["cat", path], user=65534, group=65534, extra_groups=[],
                               stdout=subprocess.DEVNULL, check=True)
    finally:
        shutil.rmtree(base, ignore_errors=True)
