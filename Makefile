# One command each for the main job and the tests; both set up .venv first.
#   make pipeline   train (resume-aware) the default model on embedded defaults
#   make test       lint, then run the test suite (what .ci/run calls)
#   make compose-test  docker-compose.yml on a real Docker engine, end to end (.ci/run too)
#   make serve      docker compose up serving, as you (docs/serving.md)
#   make bench      print the benchmark of every runtime (BENCHMARKS.md)
#   make bench-scale  load through nginx over 1 vs 3 stand-in replicas (docs/scale_out.md)
#   make web MODEL=artifacts/models/cgan/1   the in-browser page on http://127.0.0.1:8000/
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python

MODEL ?= artifacts/models/cgan/1
WEB := serving/web

.PHONY: setup web-deps lint pipeline serve test compose-test bench bench-scale audit web clean

setup: $(VENV)/.installed

# Re-installs when the pins change. requirements.lock holds the full resolved
# set that was tested together; pyproject.toml states the compatible ranges.
$(VENV)/.installed: pyproject.toml requirements.lock
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --constraint requirements.lock --editable '.[test]'
	touch $@

# onnxruntime-web (the page) and onnxruntime-node (the Node.js example), from the lock file.
web-deps: $(WEB)/node_modules/.installed

$(WEB)/node_modules/.installed: $(WEB)/package.json $(WEB)/package-lock.json
	cd $(WEB) && npm ci --no-audit --no-fund
	touch $@

pipeline: setup
	$(VENV)/bin/model-pkg pipeline

# docker compose up serving, with the pipeline container running as you (so the
# files it writes in ./artifacts are yours) and ./artifacts created by you first.
serve:
	mkdir -p artifacts/models
	HOST_UID=$$(id -u) HOST_GID=$$(id -g) docker compose up --attach-dependencies serving

# ruff's rule set is in pyproject.toml ([tool.ruff]).
lint: setup
	$(VENV)/bin/ruff check .

test: setup web-deps lint
	$(PY) -m pytest -q

bench: setup
	$(VENV)/bin/model-pkg bench

# Loopback only, a few seconds per configuration; the replicas are the TF Serving
# stand-in (a test fixture), so this needs the checkout and a published version.
bench-scale: setup
	$(PY) -m tests.serving.scale_bench --models-dir artifacts/models

# Known vulnerabilities in the locked Python and npm dependencies: a report in
# artifacts/audit/, not a gate (docs/security.md).
audit: setup web-deps
	$(PY) -m pip install --quiet 'pip-audit==2.10.1'
	$(PY) -m tools.audit

web: setup web-deps
	$(VENV)/bin/model-pkg web --model $(MODEL)

clean:
	rm -rf $(VENV) .pytest_cache $(WEB)/node_modules

# The shipped docker-compose.yml on a real Docker engine, every scenario checked (docs/tf_serving.md,
# "Under a real Docker engine"): installs the engine and Compose v2 where missing (root on
# Debian), builds named stand-ins where no registry serves the real images, removes what it made.
compose-test: setup
	$(PY) -m tests.compose
