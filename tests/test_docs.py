"""The front page and the docs: every relative link resolves, every docs page is one click away."""

import os
import re

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PAGES = ["README.md", "BENCHMARKS.md"] + sorted(
    os.path.join("docs", name) for name in os.listdir(os.path.join(ROOT, "docs"))
    if name.endswith(".md"))
_LINK = re.compile(r"\]\(([^)#\s]+)(?:#[^)]*)?\)|src=\"([^\"]+)\"")


def _links(page):
    text = open(os.path.join(ROOT, page)).read()
    for match in _LINK.finditer(text):
        target = match.group(1) or match.group(2)
        if not re.match(r"^[a-z]+:", target):   # http:, https:, mailto:
            yield target


@pytest.mark.parametrize("page", PAGES)
def test_relative_links_resolve(page):
    folder = os.path.dirname(os.path.join(ROOT, page))
    broken = [t for t in _links(page) if not os.path.exists(os.path.join(folder, t))]
    assert broken == [], f"{page}: {broken}"


def test_the_readme_is_a_front_page_that_reaches_every_docs_page():
    text = open(os.path.join(ROOT, "README.md")).read()
    assert len(text.splitlines()) < 200
    linked = set(_links("README.md"))
    docs = {p.replace(os.sep, "/") for p in PAGES if p.startswith("docs")}
    assert docs <= linked, f"not linked from the README: {sorted(docs - linked)}"
    for command in ("make pipeline", "make test", "docker compose up serving"):
        assert command in text
