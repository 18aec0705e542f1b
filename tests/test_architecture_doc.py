"""docs/architecture.md names every module of the package, and only files that exist.

Its "The layers and their files" block says it lists them all; here every .py under the four
source folders (package markers, __init__.py, aside) must be named there, and every .py the
block names must exist. An entry names a file by its path (``serving/preflight.py``) or,
after one, by a bare name resolved in that entry's folders (``serving/rest_client.py,
grpc_client.py``; ``benchmarks/  model-pkg bench: suite.py, ...``).
"""

import os
import re

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FOLDERS = ("model_pkg", "export", "serving", "benchmarks")
_PY = re.compile(r"[\w./-]*\w\.py\b")


def _block():
    text = open(os.path.join(ROOT, "docs", "architecture.md")).read()
    section = text.split("## The layers and their files", 1)[1]
    return section.split("```", 2)[1]


def _entries(block):
    """Each entry: its first line (no indent) with its indented continuation lines."""
    entries = []
    for line in block.splitlines():
        if line.strip() and not line[0].isspace():
            entries.append(line)
        elif entries and line.strip():
            entries[-1] += "\n" + line
    return entries


def _folders(entry):
    """The folders a bare name in ``entry`` may be in: its head's folder and that folder's."""
    head = re.split(r"\s{2,}", entry.splitlines()[0])[0]
    first = head.split(",")[0].strip()
    folder = first.rstrip("/") if first.endswith("/") else os.path.dirname(first)
    return [folder, folder.split("/")[0]]


def named(block):
    """(the .py paths the block names that exist, the names that resolve to no file)."""
    found, unresolved = set(), []
    for entry in _entries(block):
        for name in _PY.findall(entry):
            candidates = [name] if "/" in name else [f"{f}/{name}" for f in _folders(entry)]
            hits = [c for c in candidates if os.path.isfile(os.path.join(ROOT, c))]
            found.update(hits[:1])
            if not hits:
                unresolved.append(f"{name} ({entry.split()[0]})")
    return found, unresolved


def tree():
    """Every module under the source folders, as a repository-relative path."""
    paths = set()
    for folder in FOLDERS:
        for dirpath, dirs, files in os.walk(os.path.join(ROOT, folder)):
            dirs[:] = [d for d in dirs if d not in ("node_modules", "__pycache__")]
            paths.update(os.path.relpath(os.path.join(dirpath, f), ROOT).replace(os.sep, "/")
                         for f in files if f.endswith(".py") and f != "__init__.py")
    return paths


def test_every_module_is_named():
    found, _ = named(_block())
    assert sorted(tree() - found) == []


def test_every_named_file_exists():
    _, unresolved = named(_block())
    assert unresolved == []


def test_a_missing_or_stale_name_is_caught():
    block = ("serving/rest_client.py, grpc_client.py   the clients\n"
             "benchmarks/    model-pkg bench: suite.py,\n                nothing_here.py\n")
    found, unresolved = named(block)
    assert {"serving/grpc_client.py", "benchmarks/suite.py"} <= found
    assert "serving/preflight.py" in tree() - found
    assert unresolved == ["nothing_here.py (benchmarks/)"]
