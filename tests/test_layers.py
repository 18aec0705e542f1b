"""Every import follows the layer arrows (docs/architecture.md); only the CLI imports them all.

    model_pkg (train, eval)  ->  model_pkg.export  ->  model_pkg.serving  ->  model_pkg.benchmarks

A module may import its own layer and the layers to its left, never to its
right; no module imports the source folders (export/, serving/, benchmarks/)
by their folder names, since the installed package has one namespace.
"""

import ast
import os

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LAYERS = {"model_pkg": 0, "model_pkg.export": 1, "model_pkg.serving": 2,
          "model_pkg.benchmarks": 3}
FOLDERS = {"model_pkg": "model_pkg", "export": "model_pkg.export",
           "serving": "model_pkg.serving", "benchmarks": "model_pkg.benchmarks"}
EXEMPT = {os.path.join("model_pkg", "cli.py"), os.path.join("model_pkg", "__main__.py")}


def _layer(module):
    """Layer number of a dotted module name inside the package, or None outside it."""
    best = [p for p in LAYERS if module == p or module.startswith(p + ".")]
    return LAYERS[max(best, key=len)] if best else None


def _sources():
    for folder, package in FOLDERS.items():
        for dirpath, _, files in os.walk(os.path.join(ROOT, folder)):
            for name in files:
                if name.endswith(".py"):
                    path = os.path.join(dirpath, name)
                    yield os.path.relpath(path, ROOT), package


def _imports(path):
    tree = ast.parse(open(os.path.join(ROOT, path)).read(), path)
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from ((alias.name, node.lineno) for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            yield node.module, node.lineno
            yield from ((f"{node.module}.{a.name}", node.lineno) for a in node.names)


def test_the_source_tree_is_scanned():
    files = dict(_sources())
    assert len(files) > 40 and os.path.join("export", "tf_c_api.py") in files


@pytest.mark.parametrize("path, package", sorted(_sources()))
def test_imports_follow_the_layers(path, package):
    if path in EXEMPT:
        return
    own = LAYERS[package]
    for module, line in _imports(path):
        top = module.split(".")[0]
        assert top not in ("export", "serving", "benchmarks"), \
            f"{path}:{line} imports the folder {top!r}; use model_pkg.{top}"
        layer = _layer(module)
        assert layer is None or layer <= own, \
            f"{path}:{line} imports {module} (layer {layer}) from layer {own}"


def test_a_violation_would_be_caught(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text("from model_pkg.serving import config_files\n")
    assert list(_imports(str(bad))) and _layer("model_pkg.serving.config_files") == 2


# The training loop and its callers: the CLI, the experiment screen. Everything else builds a
# model through model_pkg.gan.build_gan and reads a run's config through model_pkg.config.
TRAINING_LOOP_USERS = {os.path.join("model_pkg", "cli.py"), os.path.join("model_pkg", "screen.py")}


@pytest.mark.parametrize("path, package", sorted(_sources()))
def test_only_the_cli_and_the_screen_import_the_training_loop(path, package):
    if path in TRAINING_LOOP_USERS:
        return
    loop = [line for module, line in _imports(path)
            if module == "model_pkg.train" or module.startswith("model_pkg.train.")]
    assert not loop, f"{path}:{loop[0]} imports model_pkg.train (the training loop)"


def test_every_package_folder_is_in_the_wheel():
    """A folder with an __init__.py that pyproject's packages list misses is absent from the
    wheel and the Docker image: their `import` fails although every test here passes."""
    import tomllib

    with open(os.path.join(ROOT, "pyproject.toml"), "rb") as handle:
        listed = set(tomllib.load(handle)["tool"]["setuptools"]["packages"])
    found = set()
    for folder, package in FOLDERS.items():
        for dirpath, _, files in os.walk(os.path.join(ROOT, folder)):
            if "__init__.py" in files:
                inner = os.path.relpath(dirpath, os.path.join(ROOT, folder))
                found.add(package if inner == "." else f"{package}.{inner.replace(os.sep, '.')}")
    assert found - listed == set(), f"add {sorted(found - listed)} to pyproject.toml's packages"
