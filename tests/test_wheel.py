"""The wheel installs and works outside the checkout, writing only where it is run.

Builds the wheel, installs it (without dependencies) into a fresh virtualenv
whose only other packages come from this environment's site-packages by a
.pth line (the editable install's finder in there is not activated that way,
so the checkout is not importable), then from a folder outside the checkout:
``model-pkg --help``, a 3-step train, an export, a generate, check-serving.
"""

import glob
import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _run(*args, cwd, env=None, check=True):
    out = subprocess.run(list(args), cwd=cwd, capture_output=True, text=True, timeout=900,
                         env=env)
    if check and out.returncode != 0:
        pytest.fail(f"{' '.join(map(str, args))} exited {out.returncode}:\n{out.stderr[-3000:]}")
    return out


def build_wheel(tmp):
    """The wheel built from a copy of the package's sources, in ``tmp``/dist."""
    source = tmp / "source"   # a copy: building in the checkout would leave build/ there
    source.mkdir()
    for name in ("pyproject.toml", "README.md", "requirements.lock"):
        shutil.copy(os.path.join(ROOT, name), source / name)
    for folder in ("model_pkg", "export", "serving", "benchmarks"):
        shutil.copytree(os.path.join(ROOT, folder), source / folder,
                        ignore=shutil.ignore_patterns("node_modules", "__pycache__"))
    _run(sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", str(tmp / "dist"),
         str(source), cwd=str(tmp))
    (wheel,) = glob.glob(str(tmp / "dist" / "model_pkg-*.whl"))
    return wheel


def clean_env(**extra):
    """os.environ without this checkout's venv, Python or model_pkg settings."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("MODEL_PKG_", "PYTHON", "PIP_")) and k != "VIRTUAL_ENV"}
    return env | {"TF_CPP_MIN_LOG_LEVEL": "3"} | extra


@pytest.fixture(scope="module")
def wheel(tmp_path_factory):
    return build_wheel(tmp_path_factory.mktemp("build"))


@pytest.fixture(scope="module")
def installed(tmp_path_factory, wheel):
    """(venv python, env, a working folder outside the checkout) with the wheel installed."""
    tmp = tmp_path_factory.mktemp("wheel")
    _run(sys.executable, "-m", "venv", str(tmp / "venv"), cwd=str(tmp))
    python = str(tmp / "venv" / "bin" / "python")
    site = _run(python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])",
                cwd=str(tmp)).stdout.strip()
    with open(os.path.join(site, "deps.pth"), "w") as handle:   # TensorFlow & co., no reinstall
        handle.write(sysconfig.get_paths()["purelib"] + "\n")
    _run(python, "-m", "pip", "install", "--quiet", "--no-deps", "--no-index", wheel,
         cwd=str(tmp))
    work = tmp / "work"
    work.mkdir()
    env = clean_env(MODEL_PKG_EVALUATOR_DIR=str(tmp / "evaluator"))
    return python, env, work, site


def _cli(installed, *args, check=True):
    python, env, work, _ = installed
    return _run(os.path.join(os.path.dirname(python), "model-pkg"), *map(str, args),
                cwd=str(work), env=env, check=check)


def test_the_wheel_ships_the_package_without_development_tools(wheel):
    modules = {n for n in zipfile.ZipFile(wheel).namelist() if n.endswith(".py")}
    assert "model_pkg/benchmarks/suite.py" in modules
    assert sorted(n for n in modules if not n.startswith("model_pkg/")) == []
    # make audit reads the checkout's requirements.lock; balancer_load drives the stand-in.
    assert not {"model_pkg/benchmarks/audit.py", "model_pkg/benchmarks/balancer_load.py"} \
        & modules


def test_the_wheel_has_one_namespace_with_its_data(installed):
    python, env, work, site = installed
    out = _run(python, "-c", "import model_pkg.export, model_pkg.serving.config_files as c, "
               "model_pkg.benchmarks; print(model_pkg.export.__file__); print(c.CONFIG_DIR)",
               cwd=str(work), env=env).stdout.split()
    assert all(path.startswith(site) for path in out)
    for rel in ("model_pkg/assets/mnist.npz", "model_pkg/serving/config/models.config",
                "model_pkg/serving/web/index.html", "model_pkg/serving/web/package-lock.json"):
        assert os.path.isfile(os.path.join(site, rel)), rel
    assert not {"export", "serving", "benchmarks"} & set(os.listdir(site))   # no stray packages
    missing = _run(python, "-c", "import export", cwd=str(work), env=env, check=False)
    assert missing.returncode != 0 and "No module named 'export'" in missing.stderr


def test_train_export_generate_write_under_the_working_folder(installed):
    _, _, work, site = installed
    before = sorted(os.listdir(site))
    assert "usage: model-pkg" in _cli(installed, "--help").stdout
    _cli(installed, "train", "--workdir", "run", "--preset", "seed", "--steps", 3,
         "--batch-size", 8, "--no-progress")
    version = _cli(installed, "export", "--workdir", "run", "--skip-quality").stdout.split()[-1]
    assert version == str(work / "artifacts" / "models" / "cgan" / "1")
    _cli(installed, "generate", "--model", version, "--runtime", "onnx", "--labels", "1,7",
         "--out", "digits.png")
    assert (work / "digits.png").stat().st_size > 0
    assert sorted(os.listdir(site)) == before   # nothing written into the install


def test_check_serving_runs_from_the_wheel(installed):
    _, _, work, site = installed
    refused = _cli(installed, "check-serving", check=False)
    assert refused.returncode == 2 and "no models.config" in refused.stderr
    template = os.path.join(site, "model_pkg", "serving", "config")
    if not (work / "artifacts" / "models" / "cgan" / "1").is_dir():
        pytest.skip("needs the version the previous test exports")
    out = _cli(installed, "check-serving", "--config-dir", template)
    assert "TF Serving can start" in out.stdout
