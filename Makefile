# The README's commands. `make demo` and `make test` set everything up on a fresh machine.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: setup browser demo test lint bench bench-digest clean

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

# Headless Chromium for the page tests (tests/test_browser.py, marked `browser`): Debian's chromium and
# chromium-driver, never a downloaded driver. Installed when missing and we are root; otherwise a hint, and
# those tests skip (or fail under CI=true).
browser:
	@if command -v chromium >/dev/null && command -v chromedriver >/dev/null; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		echo "make browser: NOTICE: installing Debian's chromium and chromium-driver with apt-get, as root:"; \
		echo "  about 380 MB on disk, for the browser tests only (tests/test_browser.py, tests/test_serve.py -m browser)."; \
		echo "  To skip it: interrupt now (Ctrl-C within 10 s at a terminal) and run .venv/bin/pytest -m 'not browser'."; \
		if [ -t 0 ]; then sleep 10; fi; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null; \
	else \
		echo "make browser: chromium or chromedriver is missing and we are not root; install them with"; \
		echo "  sudo apt-get install -y chromium chromium-driver"; \
		echo "(the browser tests skip without them, and fail when CI=true)"; \
	fi

test: setup browser
	$(BIN)/pytest -q

lint: setup
	$(BIN)/ruff check .

bench: setup
	$(BIN)/python benchmarks/crawl_bench.py
	$(BIN)/python benchmarks/digest_bench.py

bench-digest: setup
	$(BIN)/python benchmarks/digest_bench.py

clean:
	rm -rf $(VENV) demo-output .pytest_cache
