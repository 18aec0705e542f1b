# One command each for the main job and the tests; both set up .venv first.
#   make pipeline   train (resume-aware) the default model on embedded defaults
#   make test       run the test suite (what .ci/run calls)
#   make bench      print the training-speed benchmark
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python

.PHONY: setup pipeline test bench clean

setup: $(VENV)/.installed

# Re-installs when the pins change. requirements.lock holds the full resolved
# set that was tested together; pyproject.toml pins the direct dependencies.
$(VENV)/.installed: pyproject.toml requirements.lock
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --constraint requirements.lock --editable '.[test]'
	touch $@

pipeline: setup
	$(VENV)/bin/model-pkg pipeline

test: setup
	$(PY) -m pytest -q

bench: setup
	$(PY) benchmarks/train_speed.py

clean:
	rm -rf $(VENV) .pytest_cache
