"""pyproject.toml declares every third-party package the wheel imports, as compatible ranges.

requirements.lock keeps the exact tested set; each declared range must admit the lock's
version, and none may be an exact pin (a neighbour needing another patch release could not
install beside the package; tests/test_wheel_neighbour.py installs one).
"""

import ast
import importlib.metadata
import os
import re
import sys
import tomllib

from packaging.requirements import Requirement

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FOLDERS = ("model_pkg", "export", "serving", "benchmarks")


def _name(text):
    return re.sub(r"[-_.]+", "-", text).lower()


def declared():
    """{distribution: Requirement} of [project].dependencies and the user extras."""
    with open(os.path.join(ROOT, "pyproject.toml"), "rb") as handle:
        project = tomllib.load(handle)["project"]
    texts = project["dependencies"] + project["optional-dependencies"]["openvino"]
    return {_name(r.name): r for r in map(Requirement, texts)}


def imported_top_levels():
    """Every top-level module the package's sources import, outside the standard library."""
    found = set()
    for folder in FOLDERS:
        for dirpath, dirs, files in os.walk(os.path.join(ROOT, folder)):
            dirs[:] = [d for d in dirs if d != "node_modules"]
            for name in (f for f in files if f.endswith(".py")):
                tree = ast.parse(open(os.path.join(dirpath, name)).read())
                for node in ast.walk(tree):
                    if isinstance(node, ast.Import):
                        found.update(a.name.split(".")[0] for a in node.names)
                    elif isinstance(node, ast.ImportFrom) and node.level == 0:
                        found.add(node.module.split(".")[0])
    return found - set(sys.stdlib_module_names) - {"model_pkg"}


def test_every_imported_package_is_declared():
    deps, providers = declared(), importlib.metadata.packages_distributions()
    undeclared = {module: providers.get(module) for module in imported_top_levels()
                  if not {_name(d) for d in providers.get(module, [])} & set(deps)}
    assert undeclared == {}


def test_the_ranges_admit_the_lock_and_pin_nothing():
    lock = dict(line.split("==") for line in open(os.path.join(ROOT, "requirements.lock"))
                .read().split() if "==" in line)
    lock = {_name(k): v for k, v in lock.items()}
    for name, requirement in declared().items():
        assert name in lock, f"{name} is not in requirements.lock"
        assert lock[name] in requirement.specifier, f"{requirement} refuses the lock's {lock[name]}"
        assert not any(s.operator in ("==", "===") for s in requirement.specifier), requirement
