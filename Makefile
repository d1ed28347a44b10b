# Two commands on a fresh machine: `make demo` and `make test`.
# The inner loop: `make test-fast` (no slow or real-data tests); the documentation site: `make docs`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

DOCS_STAMP := $(VENV)/.installed-docs

.PHONY: demo test test-fast docs install clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --upgrade pip
	$(BIN)/python -m pip install -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/mer demo

test: $(STAMP)
	$(BIN)/python -m pytest

# Deselects the tests marked slow (measured over a few seconds) and real_data (they read
# ../shared/data; tests/conftest.py fails one that reads it unmarked).
test-fast: $(STAMP)
	$(BIN)/python -m pytest -m "not slow and not real_data" -q

$(DOCS_STAMP): $(STAMP) pyproject.toml
	$(BIN)/python -m pip install -e '.[dev,docs]'
	touch $(DOCS_STAMP)

# The site from docs/ and the docstrings into site/; a warning fails the build.
docs: $(DOCS_STAMP)
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict

clean:
	rm -rf $(VENV) build site *.egg-info src/*.egg-info
