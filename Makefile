# Two commands for a reader:  `make lab`  opens the book,  `make test`  checks all of it.
# Both create .venv on first use (python3 -m venv) and install cnnlib editable with its
# book and dev extras; they re-install only when pyproject.toml changes.

PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

# A second environment with Colab's ipywidgets, for the widget tests.
VENV7  ?= .venv-ipyw7
PY7    := $(VENV7)/bin/python
STAMP7 := $(VENV7)/.installed
IPYW7_PACKAGES ?= "ipywidgets==7.7.1" numpy matplotlib pytest hypothesis

# The website (make site) and the instructor edition (make course) each get their own environment,
# so that Jupyter Book's and nbgrader's requirements never move the reader's .venv.
VENV_SITE ?= .venv-site
PY_SITE := $(VENV_SITE)/bin/python
STAMP_SITE := $(VENV_SITE)/.installed
VENV_COURSE ?= .venv-course
PY_COURSE := $(VENV_COURSE)/bin/python
STAMP_COURSE := $(VENV_COURSE)/.installed

HOST ?= 127.0.0.1
PORT ?= 8888
# `make test TORCH=1` also installs PyTorch's CPU build into $(VENV) first, so that the parity
# tests (tests/core/test_torch_parity.py) and the notebooks' PyTorch comparisons run; without
# it they are skipped. CI sets it.
TORCH ?=
TORCH_PACKAGE ?= torch==2.13.0
TORCH_STAMP := $(VENV)/.torch-installed
# Extra arguments for pytest, e.g. `make test PYTEST_ARGS="-x -k pool"`.
PYTEST_ARGS ?=
# Parallel pytest workers (pytest-xdist); 0 runs everything in one process. loadscope keeps each
# test module, and each notebook's cells, on one worker, in order.
WORKERS ?= 2
XDIST := -n $(WORKERS) --dist loadscope
# Two workers on two cores: one BLAS thread each, so the workers do not fight over the cores
# (the book's arrays are small; multi-threaded BLAS only adds contention here).
TEST_ENV := OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 MKL_NUM_THREADS=1

NOTEBOOKS := $(shell find notebooks -name '*.ipynb' -not -path '*/.ipynb_checkpoints/*' 2>/dev/null | sort)
START_NOTEBOOK := $(wildcard notebooks/00_start_here.ipynb)

.DEFAULT_GOAL := help
.PHONY: envs help lab test unit nbval coverage mutation lint format bench bench-readme notebooks sync test-widgets7 \
	site site-check course course-check clean

help:
	@echo "make lab            open the book in JupyterLab (http://$(HOST):$(PORT)/lab)"
	@echo "make test           unit tests, then every notebook under nbval (TORCH=1: with PyTorch, CPU build)"
	@echo "make coverage       branch coverage of the numerical core by its unit tests (at least 98 %)"
	@echo "make mutation       the mutation run of tests/mutants.toml (report in tests/MUTATION.md)"
	@echo "make lint           ruff over cnnlib, tests, benchmarks, tools and notebooks"
	@echo "make bench          speed benchmarks (prints the results; the tree stays clean)"
	@echo "make bench-readme   the same, and rewrites the tables in benchmarks/README.md"
	@echo "make notebooks      re-execute every notebook in place, then refresh README links"
	@echo "make sync           rewrite the repository URL, badges and chapter table from pyproject.toml"
	@echo "make test-widgets7  the widget tests against ipywidgets 7.7.1 (Google Colab's version)"
	@echo "make site           build the website from the committed notebooks into build/site"
	@echo "make site-check     build it, then open it in Chromium with the network cut off and check it"
	@echo "make course         generate the nbgrader instructor edition into build/course"
	@echo "make course-check   autograde worked solutions, untouched stubs and a wrong answer"
	@echo "make envs           install the side environments (widgets 7.7, website, instructor edition)"
	@echo "make clean          remove the virtual environments and caches"

# Create a virtual environment ($(1)) with $(PYTHON), refusing a Python older than 3.11.
define make-venv
	@test -x $(1)/bin/python || { \
	  $(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)' 2>/dev/null || { \
	    found=$$($(PYTHON) --version 2>&1) || found="not found"; \
	    echo "error: the book needs Python 3.11 or newer, but '$(PYTHON)' is: $$found" >&2; \
	    echo "       Install a newer Python and point make at it, e.g. 'make test PYTHON=python3.12'." >&2; \
	    exit 1; }; \
	  echo "Creating $(1) with $$($(PYTHON) --version)"; \
	  $(PYTHON) -m venv $(1); }
endef

$(STAMP): pyproject.toml
	$(call make-venv,$(VENV))
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[book,dev]"
	@touch $@

$(TORCH_STAMP): $(STAMP)
	$(PY) -m pip install --quiet "$(TORCH_PACKAGE)"
	@touch $@

$(STAMP7): pyproject.toml
	$(call make-venv,$(VENV7))
	$(PY7) -m pip install --quiet --upgrade pip
	$(PY7) -m pip install --quiet $(IPYW7_PACKAGES)
	$(PY7) -m pip install --quiet --no-deps -e .
	@touch $@

lab: $(STAMP)
	@mkdir -p notebooks
	$(PY) -m jupyterlab --ServerApp.ip=$(HOST) --ServerApp.port=$(PORT) --ServerApp.root_dir=notebooks \
	  --allow-root $(if $(START_NOTEBOOK),--LabApp.default_url=/lab/tree/00_start_here.ipynb)

test: unit nbval

# With PYTEST_ARGS (e.g. -k NAME) a step whose selection is empty is not a failure: pytest's exit
# status 5 ("no tests collected") is reported and passed over. Without PYTEST_ARGS it stays an error.
define pytest-selection
	$(1); status=$$?; \
	if [ $$status = 5 ] && [ "$(if $(strip $(PYTEST_ARGS)),selected)" = selected ]; then \
	  echo "$(2): PYTEST_ARGS selects nothing here, nothing to run"; \
	else exit $$status; fi
endef

unit: $(STAMP) $(if $(TORCH),$(TORCH_STAMP))
	$(call pytest-selection,$(TEST_ENV) $(PY) -m pytest $(XDIST) $(PYTEST_ARGS),unit)

# nbval in lax mode: only cells tagged nbval-check-output have their output compared.
nbval: $(STAMP) $(if $(TORCH),$(TORCH_STAMP))
ifneq ($(NOTEBOOKS),)
	$(call pytest-selection,$(TEST_ENV) $(PY) -m pytest --nbval-lax --nbval-current-env --nbval-cell-timeout=300 \
	  $(XDIST) $(PYTEST_ARGS) notebooks/,nbval)
else
	@echo "nbval: no notebooks under notebooks/ yet, nothing to execute"
endif

# Branch coverage of the numerical core (the modules listed in pyproject.toml, [tool.coverage.run])
# by its unit tests, tests/core; fails below 98 %. What stays uncovered is explained in tests/COVERAGE.md.
coverage: $(STAMP)
	$(TEST_ENV) $(PY) -m pytest $(XDIST) --cov --cov-report=term-missing $(PYTEST_ARGS) tests/core

# Realistic bugs applied one at a time to a temporary copy of the repository (tools/mutate.py);
# writes tests/MUTATION.md. Not part of `make test`: with 177 mutants it takes about 23 minutes on two shared cores.
mutation: $(STAMP)
	$(TEST_ENV) $(PY) tools/mutate.py

lint: $(STAMP)
	$(PY) -m ruff check cnnlib tests benchmarks tools notebooks
	$(PY) -m ruff format --check cnnlib tests benchmarks tools

format: $(STAMP)
	$(PY) -m ruff check --fix cnnlib tests benchmarks tools notebooks
	$(PY) -m ruff format cnnlib tests benchmarks tools

# bench prints its results and leaves the tree alone; bench-readme rewrites benchmarks/README.md
bench: $(STAMP)
	@set -e; found=0; for f in benchmarks/bench_*.py; do \
	  [ -f "$$f" ] || continue; found=1; echo "== $$f"; $(PY) "$$f" $(BENCH_ARGS); done; \
	  [ $$found = 1 ] || echo "bench: no benchmarks/bench_*.py yet"

bench-readme: $(STAMP)
	@$(MAKE) --no-print-directory bench BENCH_ARGS=--write-readme

notebooks: $(STAMP)
ifneq ($(NOTEBOOKS),)
	$(TEST_ENV) $(PY) tools/run_notebooks.py $(NOTEBOOKS)
endif
	$(PY) tools/book.py

sync: $(STAMP)
	$(PY) tools/book.py

# ---------------------------------------------------------------------------- website
# Only the `site` extra's packages (Jupyter Book, MathJax's files), read from pyproject.toml:
# building the site imports nothing from cnnlib.
# The side environments (widgets 7.7, website, instructor edition) on their own, so CI can build them
# while the tests run: `make envs`.
envs: $(STAMP7) $(STAMP_SITE) $(STAMP_COURSE)

$(STAMP_SITE): pyproject.toml
	$(call make-venv,$(VENV_SITE))
	$(PY_SITE) -m pip install --quiet --upgrade pip
	$(PY_SITE) -c 'import tomllib; print("\n".join(tomllib.load(open("pyproject.toml", "rb"))["project"]["optional-dependencies"]["site"]))' \
	  > $(VENV_SITE)/requirements-site.txt
	$(PY_SITE) -m pip install --quiet -r $(VENV_SITE)/requirements-site.txt
	@touch $@

site: $(STAMP_SITE)
	$(PY_SITE) tools/site.py

# The browser test runs in $(VENV) (playwright comes with the dev extra).
site-check: site $(STAMP)
	CNNLIB_REQUIRE_SITE=1 $(TEST_ENV) $(PY) -m pytest -p no:cacheprovider tests/repo/test_site.py $(PYTEST_ARGS)

# ---------------------------------------------------------------------------- instructor edition
$(STAMP_COURSE): pyproject.toml
	$(call make-venv,$(VENV_COURSE))
	$(PY_COURSE) -m pip install --quiet --upgrade pip
	$(PY_COURSE) -m pip install --quiet -e ".[book,instructor]" "pytest>=7.4"
	@touch $@

course: $(STAMP_COURSE)
	$(PY_COURSE) tools/course.py generate

course-check: $(STAMP_COURSE)
	$(TEST_ENV) $(PY_COURSE) tools/course.py check
	CNNLIB_REQUIRE_NBGRADER=1 $(TEST_ENV) $(PY_COURSE) -m pytest -p no:cacheprovider tests/repo/test_course.py $(PYTEST_ARGS)

# Builds $(VENV7) only when there is something to run in it.
test-widgets7:
	@if [ -d tests/widgets ]; then \
	  $(MAKE) --no-print-directory $(STAMP7) && \
	  $(PY7) -c 'import ipywidgets; print("ipywidgets", ipywidgets.__version__)' && \
	  $(PY7) -m pytest -p no:cacheprovider $(PYTEST_ARGS) tests/widgets; \
	else echo "test-widgets7: tests/widgets does not exist yet, nothing to run"; fi

clean:
	rm -rf $(VENV) $(VENV7) $(VENV_SITE) $(VENV_COURSE) build .pytest_cache .ruff_cache .hypothesis cnnlib.egg-info
	find . -name __pycache__ -type d -prune -not -path './.git/*' -exec rm -rf {} +
