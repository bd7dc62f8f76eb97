# The course's commands. `make help` lists them.
#
# Everything is installed into .venv/ from pyproject.toml. Each install step
# leaves a stamp file inside .venv/ that depends on pyproject.toml, so a second
# `make lab` or `make test` skips installing unless the dependencies changed.

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
LAB_ARGS ?=
# Jupyter refuses to run as root unless told; containers often run as root.
ROOT_FLAG := $(if $(filter 0,$(shell id -u)),--allow-root,)
PYTEST_ARGS ?=
# Test files run side by side on this many processes (pytest-xdist); a file's tests,
# and the files that share the graded demo class, stay on one; the slowest are handed
# out first, in tests/conftest.py's order (xdist's own would put them last).
TEST_JOBS ?= 2
# A Chromium for the browser tests; empty means the one on PATH.
CHROMIUM ?=
export CHROMIUM
# pip's own chatter is noise here; errors still print.
PIP_INSTALL := $(BIN)/python -m pip install --disable-pip-version-check --progress-bar off

.DEFAULT_GOAL := help
.PHONY: help lab test lint bench mutation assignments grade demo-grading screenshots binder-lock clean system-tools

help:  ## list the commands
	@awk 'BEGIN {FS = ":.*## "} /^[a-z-]+:.*## / {printf "  make %-13s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

lab: $(VENV)/.lab-installed  ## set up .venv and open the course in JupyterLab (Ctrl+C twice stops it)
	$(BIN)/jupyter lab --ServerApp.root_dir=course $(ROOT_FLAG) $(LAB_ARGS)

test: $(VENV)/.dev-installed system-tools  ## set up .venv with the dev tools and run every test
	$(BIN)/ruff check .
	$(BIN)/python -m pytest -n $(TEST_JOBS) --dist loadgroup --no-loadscope-reorder $(PYTEST_ARGS)

lint: $(VENV)/.dev-installed  ## ruff lint only
	$(BIN)/ruff check .

bench: $(VENV)/.dev-installed  ## benchmarks: batch vs loop, GEMM share, widget reaction times, grading throughput
	$(BIN)/python -m bench.run

mutation: $(VENV)/.dev-installed  ## mutation testing: which wrong answers would the checks let pass? (ARGS=--sample)
	$(BIN)/python -m backprop_autograder.mutation $(ARGS)

assignments: $(VENV)/.lab-installed  ## build the nbgrader assignments into build/nbgrader (SEED=..., COURSE_DIR=...)
	$(BIN)/python -m backprop_autograder.build $(if $(SEED),--seed $(SEED),) $(if $(COURSE_DIR),--course-dir $(COURSE_DIR),)

grade: $(VENV)/.lab-installed  ## grade LESSON from the LMS zip FROM: make grade LESSON=01_forward_pass FROM=downloads.zip
	@test -n "$(LESSON)" -a -n "$(FROM)" || { echo "usage: make grade LESSON=01_forward_pass FROM=downloads.zip"; exit 2; }
	$(BIN)/backprop-grade grade $(LESSON) --from $(FROM)

demo-grading: $(VENV)/.lab-installed  ## grade a synthetic class on every lesson (LESSON=... for one): build/demo/
	$(BIN)/python -m backprop_autograder.demo $(if $(LESSON),--lesson $(LESSON),)

binder-lock:  ## pin Binder's environment: binder/environment.yml from pyproject.toml's bounds (PYTHON=...)
	$(PYTHON) binder/lock.py

# Three system programs the tests use for real: Chromium for the browser tests
# (playwright cannot download its own here), bubblewrap, the grading sandbox,
# and PostgreSQL's server for the distributed gradebook. Found on PATH (or in
# Debian's /usr/lib/postgresql), or installed from Debian's packages when run as root.
system-tools:
	@missing=""; \
	[ -x "$(CHROMIUM)" ] || command -v chromium >/dev/null || command -v chromium-browser >/dev/null \
	  || missing="$$missing chromium"; \
	command -v bwrap >/dev/null || missing="$$missing bubblewrap"; \
	command -v pg_ctl >/dev/null || ls /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1 \
	  || missing="$$missing postgresql"; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "installing Debian's$$missing for the tests"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; \
	  else \
	    echo "error: the tests need$$missing. Install them (Debian/Ubuntu: sudo apt install$$missing);"; \
	    echo "       a Chromium elsewhere can be named with make test CHROMIUM=/path/to/chromium"; exit 1; \
	  fi; \
	fi

screenshots: $(VENV)/.dev-installed system-tools  ## the README's pictures, from the browser journeys' screenshots
	$(BIN)/python -m pytest -m browser tests/test_journey_student.py tests/test_journey_self_learner.py tests/test_journey_instructor.py
	$(BIN)/python docs/screenshots.py

clean:  ## remove .venv and caches
	rm -rf $(VENV) .pytest_cache .ruff_cache .hypothesis

$(BIN)/python:
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 10))' 2>/dev/null || { \
	  echo "error: '$(PYTHON)' is missing or older than 3.10. Install Python 3.10+ (3.11 or 3.12 recommended)"; \
	  echo "       and run again, or point make at it: make lab PYTHON=/path/to/python3.12"; exit 1; }
	$(PYTHON) -m venv $(VENV) || { \
	  echo "error: could not create $(VENV). On Debian/Ubuntu: sudo apt install python3-venv"; \
	  rm -rf $(VENV); exit 1; }

$(VENV)/.lab-installed: pyproject.toml | $(BIN)/python
	$(PIP_INSTALL) -e .
	@touch $@

$(VENV)/.dev-installed: pyproject.toml | $(BIN)/python
	$(PIP_INSTALL) -e '.[dev]'
	@touch $@ $(VENV)/.lab-installed
