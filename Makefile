# Minga — the two commands are `make run` and `make test`; everything else is a helper for them.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
LANGS := es fr ar
MO := $(foreach l,en $(LANGS),i18n/$(l)/LC_MESSAGES/minga.mo)
PO := $(foreach l,en $(LANGS),i18n/$(l)/LC_MESSAGES/minga.po)

# Run the app on a real window; on a headless machine, under Xvfb.
run: setup
	@if [ -z "$$DISPLAY" ] && [ -z "$$WAYLAND_DISPLAY" ] && command -v xvfb-run >/dev/null; then \
	  echo "No display here: starting Minga under Xvfb"; \
	  xvfb-run -a -s "-screen 0 1280x800x24" $(PY) -m desktop $(ARGS); \
	else $(PY) -m desktop $(ARGS); fi

# The whole suite. PostgreSQL tests run when MINGA_TEST_POSTGRES_URL is set, or when the
# machine's own server answers on 127.0.0.1:5432; otherwise they skip and say why.
test: setup
	@url="$${MINGA_TEST_POSTGRES_URL:-}"; \
	if [ -z "$$url" ] && $(PY) -c "import psycopg; psycopg.connect('postgresql://postgres@127.0.0.1:5432/postgres', connect_timeout=2).close()" 2>/dev/null; then \
	  url=postgresql://postgres@127.0.0.1:5432/postgres; fi; \
	MINGA_TEST_POSTGRES_URL="$$url" QT_QPA_PLATFORM=offscreen $(PY) -m pytest $(PYTEST_ARGS)

setup: $(STAMP) $(MO)

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	@touch $@

i18n/%/LC_MESSAGES/minga.mo: i18n/%/LC_MESSAGES/minga.po $(STAMP)
	$(VENV)/bin/pybabel -q compile -d i18n -D minga -l $*

# Extract strings from the sources, merge them into every catalogue, compile.
i18n: $(STAMP)
	$(VENV)/bin/pybabel -q extract -F i18n/babel.cfg -k N_ -k ngettext:1,2 -k pgettext:1c,2 \
	  --project=Minga --copyright-holder="Minga contributors" --no-location --sort-output \
	  -o i18n/messages.pot desktop sync
	@# A fixed creation date: otherwise every extraction rewrites a header line in five files and
	@# two branches that both added strings conflict on it.
	@sed -i 's/^"POT-Creation-Date: .*/"POT-Creation-Date: 2026-01-01 00:00+0000\\n"/' i18n/messages.pot
	@for l in en $(LANGS); do \
	  if [ -f i18n/$$l/LC_MESSAGES/minga.po ]; then \
	    $(VENV)/bin/pybabel -q update --no-fuzzy-matching --ignore-obsolete -i i18n/messages.pot -d i18n -D minga -l $$l; \
	  else $(VENV)/bin/pybabel -q init -i i18n/messages.pot -d i18n -D minga -l $$l; fi; \
	done
	$(VENV)/bin/pybabel -q compile -d i18n -D minga

# A throwaway profile full of a realistic network, opened in the app (passphrase printed).
DEMO_DIR ?= $(shell mktemp -d -t minga-demo-XXXXXX)
demo: setup
	$(PY) -m desktop.store.demo --profile-dir $(DEMO_DIR)/profile --incidents $(or $(INCIDENTS),300)
	@$(MAKE) --no-print-directory run ARGS="--profile-dir $(DEMO_DIR)/profile"

# A local minga-server and two demo profiles synced through it (passphrase printed); Ctrl+C ends it.
demo-network: setup
	$(PY) -m desktop.demo_network --incidents $(or $(INCIDENTS),300)

# The Linux installer archive in dist/, smoke-tested with no Python, its size printed (~4 min).
package: setup
	bash packaging/ci-package.sh

lint: setup
	$(VENV)/bin/ruff check desktop sync tests
	$(VENV)/bin/ruff format --check desktop sync tests
	$(VENV)/bin/mypy desktop/domain desktop/store sync

# Fault runs on demand: random scenarios with clients and the server SIGKILLed (~5 s a run).
RUNS ?= 500
faults: setup
	$(PY) -m tests.faults.runner --runs $(RUNS) --seed $(or $(SEED),1)

bench: setup
	QT_QPA_PLATFORM=offscreen $(PY) -m pytest tests/bench -s -o python_files='bench_*.py' $(PYTEST_ARGS)

# Minga's sync beside Kinto and PouchDB over emulated 2G/EDGE/satellite/flaky links (~30 min);
# installs the peers on first use (.venv-bench-peers, tests/bench/peers/node_modules).
bench-sync: setup
	QT_QPA_PLATFORM=offscreen $(PY) -m tests.bench.bench_sync_peers $(ARGS)

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache i18n/*/LC_MESSAGES/*.mo

.PHONY: run test setup i18n demo demo-network package lint bench bench-sync faults clean
