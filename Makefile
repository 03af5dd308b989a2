# The README's commands. `make demo` and `make test` set everything up on a fresh machine.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: setup demo test lint bench clean

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	# torch first, pinned: anything looser makes pip pick a CUDA build of several GB.
	$(BIN)/pip install -q -c constraints.txt torch==2.13.0
	$(BIN)/pip install -q -c constraints.txt -e '.[dev]'
	touch $@

demo: setup
	$(BIN)/supplywatch demo

test: setup
	$(BIN)/pytest -q

lint: setup
	$(BIN)/ruff check .

bench: setup
	$(BIN)/python benchmarks/crawl_bench.py

clean:
	rm -rf $(VENV) demo-output .pytest_cache
