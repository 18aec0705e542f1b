"""Measured numbers live in docs/ and BENCHMARKS.md, not in code comments or docstrings.

A ratio ("1.3x"), a share ("28%"), a time ("12 ms") or a throughput ("img/s") in a
comment goes stale when the code or the machine changes; the docs carry a date and
a command. Dimensions ("28x28") and multiplication ("x2") are not measurements and
do not match.
"""

import ast
import io
import pathlib
import re
import tokenize

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
PACKAGE_FOLDERS = ("model_pkg", "export", "serving", "benchmarks")
MEASURED = re.compile(r"(?<![\w.])\d+(?:\.\d+)?(?:\s?%|x(?![\w])|\s?ms\b|\s?img/s|"
                      r"\s?images/s|\s?MiB\b|\s?GiB\b)")


def comments_and_docstrings(source):
    """(line, text) of every comment and every module/class/function docstring."""
    for token in tokenize.generate_tokens(io.StringIO(source).readline):
        if token.type == tokenize.COMMENT:
            yield token.start[0], token.string
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            doc = ast.get_docstring(node, clean=False)
            if doc:
                yield getattr(node, "lineno", 1), doc


def measured_numbers(source):
    return [(line, match.group(0)) for line, text in comments_and_docstrings(source)
            for match in MEASURED.finditer(text)]


def package_modules():
    return sorted(path for folder in PACKAGE_FOLDERS for path in (ROOT / folder).rglob("*.py"))


@pytest.mark.parametrize("text, found", [
    ("# ORT profiled: 28% of the run", ["28%"]),
    ("# 1.24x faster", ["1.24x"]),
    ("# 21.6 ms per batch", ["21.6 ms"]),
    ("# a 28x28 image, upsampled x2, batch 256", []),
])
def test_the_pattern_tells_measurements_from_dimensions(text, found):
    assert [hit for _, hit in measured_numbers(text + "\n")] == found


def test_no_measured_numbers_in_package_comments():
    hits = [f"{path.relative_to(ROOT)}:{line}: {hit!r}" for path in package_modules()
            for line, hit in measured_numbers(path.read_text(encoding="utf-8"))]
    assert not hits, ("measured numbers in code comments or docstrings; move them to docs/ "
                      "(with the command and date) and refer to the doc:\n" + "\n".join(hits))
