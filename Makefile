# `make demo` runs the demo; `make test` runs everything CI runs. See README.md.
VENV ?= .venv
PYTHON ?= python3
BIN := $(VENV)/bin

DIST ?= dist

.PHONY: demo test e2e loop bench dist docs lint typecheck pytest js-test system-deps clean

demo: $(VENV)/.demo-installed
	$(BIN)/python scripts/demo.py

test: system-deps $(VENV)/.dev-installed lint typecheck js-test pytest

lint: $(VENV)/.dev-installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(VENV)/.dev-installed
	$(BIN)/mypy

# Two pytest processes share the two cores, since much of the suite waits on real servers: one runs the
# time-compressed fault matrix (five minutes spent mostly waiting for its stack's alerts), then the Django
# integration's and the demo shop's tests; the other runs the rest. The first one's report follows the second's,
# and either failing fails the target.
BESIDE := tests/loop/test_matrix.py tests/django_integration tests/demo_shop
# A test still running after 20 minutes (the longest, the fault matrix, takes about five) is hung: it fails with the
# stack of every thread (pytest-timeout) instead of holding the run until CI's own limit.
PYTEST_ARGS := -m "not e2e and not loop" --timeout=1200 --timeout-method=thread
pytest: $(VENV)/.dev-installed
	@log=$$(mktemp); \
	$(BIN)/pytest $(PYTEST_ARGS) -p no:cacheprovider $(BESIDE) >$$log 2>&1 & beside=$$!; \
	$(BIN)/pytest $(PYTEST_ARGS) $(addprefix --ignore=,$(BESIDE)); rest=$$?; \
	wait $$beside; status=$$?; echo "--- $(BESIDE), run beside the rest:"; cat $$log; rm -f $$log; \
	[ $$rest -eq 0 ] && [ $$status -eq 0 ]

# The longest end-to-end proofs (a whole demo stack for the report, the storefront's browser journeys, the
# package installed into fresh virtualenvs): minutes each, so they run here and not in `make test`.
e2e: $(VENV)/.dev-installed
	$(BIN)/pytest -m e2e

# The fault matrix with the shipped rules, routing and timings (minutes per fault, an hour or two in all): every
# fault's alert, notification and resolution timed into docs/loop.md. LOOP_FAULTS=fk_orphan,healthy runs some rows.
# `make test` runs the same matrix time-compressed (tests/loop/test_matrix.py).
loop: system-deps $(VENV)/.dev-installed
	$(BIN)/pytest -m loop tests/loop

# The browser package (js/, Node.js 20.9+): install from its lockfile, build, type-check, unit tests.
# Without Node.js it is skipped with a note, and fails under CI=true (scripts/node-check.sh).
js-test:
	@scripts/node-check.sh; status=$$?; [ $$status -eq 3 ] && exit 0; [ $$status -eq 0 ] || exit $$status; \
	cd js && npm ci --no-audit --no-fund --loglevel=error && npm run --silent build && npm run --silent typecheck \
	&& npm test --silent

# Side-by-side measurements against django-prometheus + django-guid and blackbox_exporter (docs/performance.md).
bench: $(VENV)/.dev-installed
	scripts/install-system-deps.sh prometheus-blackbox-exporter
	$(BIN)/python -m pip install --quiet -e '.[bench]'
	$(BIN)/python benchmarks/django_overhead.py
	$(BIN)/python benchmarks/exporter_throughput.py
	$(BIN)/python benchmarks/trace.py
	$(BIN)/python benchmarks/frontend_map.py
	$(BIN)/python benchmarks/contracts.py
	$(BIN)/python benchmarks/store.py
	$(BIN)/python benchmarks/report.py
	$(BIN)/python benchmarks/browser.py
	$(BIN)/python benchmarks/integrity.py
	$(BIN)/python benchmarks/scale.py

# An sdist and a wheel (built from the sdist, so the sdist is proven complete) in $(DIST)/, checked by twine.
# Install the wheel with `pip install "$$(echo dist/workflow_exporter-*.whl)[exporter]"` (README.md).
dist: $(VENV)/.dist-installed
	rm -rf $(DIST)
	$(BIN)/python -m build --outdir $(DIST) .
	$(BIN)/twine check --strict $(DIST)/*

# The docs site (MkDocs, mkdocs.yml) into site/; reference pages are generated from the code at build time.
# `make test` builds it with --strict too (tests/test_docs_site.py).
# The docs site needs only the docs extra (no system packages): `make docs` works on a machine that runs nothing else.
docs: $(VENV)/.docs-installed
	$(BIN)/mkdocs build --strict --site-dir site

$(VENV)/.docs-installed: pyproject.toml $(VENV)/.venv-created
	$(BIN)/python -m pip install --quiet -e '.[docs]'
	touch $@

system-deps:
	scripts/install-system-deps.sh

$(VENV)/.venv-created:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	touch $@

# The demo extra pulls the shop, the exporter and the browser extras (Playwright for the storefront's journey;
# scripts/demo.py installs Debian's chromium when missing and allowed); dev pulls test (which pulls demo) and dist.
$(VENV)/.demo-installed: pyproject.toml $(VENV)/.venv-created
	$(BIN)/python -m pip install --quiet -e '.[demo]'
	touch $@

# mysqlclient builds against libmariadb-dev, so the system packages come first.
$(VENV)/.dev-installed: pyproject.toml $(VENV)/.venv-created | system-deps
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@ $(VENV)/.demo-installed $(VENV)/.dist-installed $(VENV)/.docs-installed

$(VENV)/.dist-installed: pyproject.toml $(VENV)/.venv-created
	$(BIN)/python -m pip install --quiet -e '.[dist]'
	touch $@

clean:
	rm -rf $(VENV) .demo .mypy_cache .pytest_cache .ruff_cache *.egg-info build $(DIST)
