# Two commands set everything up on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: install demo test lint bench components clean dashboards screenshot

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	# locust-plugins beside the environment, not in it: Locust imports it into every run whenever it is
	# importable, so only the test of a locust-plugins locustfile puts it on its PYTHONPATH.
	$(PY) -m pip install -q --no-deps --upgrade --target $(VENV)/locust-plugins 'locust-plugins==5.0.3'
	touch $(STAMP)

install: $(STAMP)

demo: install
	$(VENV)/bin/loadlens demo

# Real components the suite runs (Prometheus, Pushgateway, Chromium, nginx): installed when missing.
components:
	bash tests/install-components.sh

# Two passes: most tests on $(TEST_WORKERS) pytest-xdist workers (they mostly wait on real processes),
# then the tests marked `serial` (a CPU figure, a latency threshold, a fixed port) alone. Both
# always run and print their slowest tests; the target fails if either failed.
TEST_WORKERS ?= 3
PYTEST_ARGS ?=
test: install components
	$(PY) -m pytest -n $(TEST_WORKERS) --dist loadgroup -m "not serial" --durations=30 $(PYTEST_ARGS); \
	parallel=$$?; \
	$(PY) -m pytest -m serial --durations=30 $(PYTEST_ARGS); \
	serial=$$?; \
	test $$parallel -eq 0 -a $$serial -eq 0

lint: install
	$(VENV)/bin/ruff check runner exporters tests dashboards
	$(VENV)/bin/ruff format --check runner exporters tests dashboards
	$(VENV)/bin/mypy

# The Grafana JSON in dashboards/ is generated: edit dashboards/*.py, then regenerate.
dashboards: install
	$(PY) -m dashboards.generate

# The README's picture of a report: taken by the browser test from a real run (the degraded demo).
screenshot: install components
	LOADLENS_SCREENSHOT=$(CURDIR)/docs/report.png $(PY) -m pytest tests/e2e/test_report_browser.py -k process_source -q

bench: install components
	$(PY) tests/bench/bench_overhead.py

clean:
	rm -rf $(VENV) results .pytest_cache
