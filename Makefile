# payfirst: `make run` serves the demo, `make test` runs the whole suite.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV ?= .venv
PY := $(VENV)/bin/python
PORT ?= 8000
WORKERS ?= 1
SANDBOX_PORT ?= $(shell echo $$(($(PORT) + 1)))
PG_URL ?= postgres://postgres@127.0.0.1:5432/payfirst
PG_ADMIN_URL ?= postgres://postgres@127.0.0.1:5432/postgres
PG_BENCH_URL ?= postgres://postgres@127.0.0.1:5432/payfirst_bench
BENCH_PORT ?= 8310

export PAYFIRST_PUBLIC_BASE_URL ?= http://127.0.0.1:$(PORT)

.PHONY: run sandbox test test-sqlite test-postgres lint venv system-packages worker reconcile bench bench-webhooks load chaos audit clean

# WeasyPrint (the GST documents' PDFs) needs Pango from the system, and a font with the rupee sign.
SYSTEM_PACKAGES := libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0 fonts-dejavu-core

venv: system-packages $(VENV)/.installed

system-packages:
	@command -v dpkg >/dev/null || exit 0; \
	missing=$$(for p in $(SYSTEM_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	[ -z "$$missing" ] && exit 0; \
	if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		echo "Installing $$missing"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing; \
	else echo "Install these system packages first (WeasyPrint needs them): sudo apt-get install $$missing"; exit 1; fi

$(VENV)/.installed: requirements.txt requirements-dev.txt requirements.lock
	@command -v $(PYTHON) >/dev/null || { echo "$(PYTHON) not found; set PYTHON=/path/to/python3.11"; exit 1; }
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check -r requirements-dev.txt -c requirements.lock
	touch $@

# The demo: SQLite by default (or DATABASE_URL), one worker beside gunicorn, and the gateway sandbox as its own server
# (own process, own SQLite database data/sandbox.sqlite3 or SANDBOX_DATABASE_URL) on SANDBOX_PORT, which the app
# reaches over HTTP only. Ctrl-C reaches all three directly (one process group), so the shell only waits: the worker
# gets one signal and finishes its running task. A TERM or HUP sent to the shell is passed on to all three, once.
run: venv
	@echo "payfirst demo, starting:"
	@echo "  storefront  http://127.0.0.1:$(PORT)/"
	@echo "  API docs    http://127.0.0.1:$(PORT)/api/docs/  (OpenAPI: /api/schema/)"
	@echo "  admin       http://127.0.0.1:$(PORT)/admin/  (admin@example.com / admin; demo only)"
	@echo "  sandbox     http://127.0.0.1:$(SANDBOX_PORT)/sandbox/  (faults: /sandbox/faults/, webhooks sent: /sandbox/control/deliveries/)"
	@echo "  emails      data/emails/ (and the admin's Email outbox)"
	@mkdir -p data
	@PAYFIRST_DEMO=1 $(PY) manage.py migrate --noinput -v 0
	@PAYFIRST_DEMO=1 $(PY) manage.py createcachetable
	@PAYFIRST_DEMO=1 $(PY) manage.py seed_demo
	@rm -rf data/prometheus && mkdir -p data/prometheus
	@export PAYFIRST_DEMO=1 PROMETHEUS_MULTIPROC_DIR="$(CURDIR)/data/prometheus" PORT=$(PORT) SANDBOX_PORT=$(SANDBOX_PORT); \
	interrupted=; \
	trap 'interrupted=1; kill -TERM $$web 2>/dev/null' INT; \
	trap 'interrupted=1; kill -TERM $$web $$workers $$sandbox 2>/dev/null' TERM HUP; \
	env -u PROMETHEUS_MULTIPROC_DIR $(PY) -m sandbox serve --port $(SANDBOX_PORT) & sandbox=$$!; \
	workers=; for _ in $$(seq $(WORKERS)); do $(PY) manage.py run_worker --no-reload & workers="$$workers $$!"; done; \
	if [ -n "$$DEBUG" ]; then $(PY) manage.py runserver --noreload 127.0.0.1:$(PORT) & web=$$!; \
	else $(VENV)/bin/gunicorn config.wsgi -c config/gunicorn.py --bind 127.0.0.1:$(PORT) & web=$$!; fi; \
	while kill -0 $$web 2>/dev/null; do wait $$web; done; \
	[ -n "$$interrupted" ] || kill -TERM $$workers $$sandbox 2>/dev/null; \
	for worker in $$workers; do while kill -0 $$worker 2>/dev/null; do wait $$worker; done; done; \
	while kill -0 $$sandbox 2>/dev/null; do wait $$sandbox; done

# The gateway sandbox alone (`make run` starts it too).
sandbox: venv
	$(PY) -m sandbox serve --port $(SANDBOX_PORT)

worker: venv
	@mkdir -p data/prometheus
	PAYFIRST_DEMO=1 PROMETHEUS_MULTIPROC_DIR="$(CURDIR)/data/prometheus" $(PY) manage.py run_worker

# Lint and types: ruff, the formatter, mypy (django-stubs, drf-stubs) and the import contracts in pyproject.toml.
lint: venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy payfirst config
	$(VENV)/bin/lint-imports

# Ask the gateways about open payments and pending refunds now, against the demo's database (see docs/operations.md).
reconcile: venv
	@mkdir -p data
	PAYFIRST_DEMO=1 $(PY) manage.py migrate --noinput
	PAYFIRST_DEMO=1 $(PY) manage.py reconcile_payments $(RECONCILE_ARGS)

# SQLite first, then PostgreSQL when it answers on 127.0.0.1:5432.
test: venv
	$(MAKE) --no-print-directory test-sqlite
	@if $(PY) -c "import psycopg,sys; psycopg.connect('$(PG_ADMIN_URL)', connect_timeout=3).close()" 2>/dev/null; then \
		$(MAKE) --no-print-directory test-postgres; \
	else echo "PostgreSQL is not reachable on 127.0.0.1:5432: the PostgreSQL suite did not run."; \
	     if [ -n "$$CI" ]; then exit 1; fi; fi

test-sqlite: venv
	env -u DATABASE_URL $(PY) -m pytest $(PYTEST_ARGS)

test-postgres: venv
	DATABASE_URL=$(PG_URL) $(PY) -m pytest $(PYTEST_ARGS)

# pip-audit over every pinned version (requirements.lock); fails on a known vulnerability. AUDIT_STRICT=1 also fails
# when the vulnerability service could answer for no package at all.
audit: venv
	$(PY) .ci/audit.py

# Through HTTP at 16 connections, as customers load it: `make run` on a fresh PostgreSQL database (PG_BENCH_URL), wrk
# for the reads against /healthz, checkouts and webhook deliveries against pgbench replaying their SQL (docs/benchmarks.md).
bench: venv
	@command -v wrk >/dev/null || { if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk || { apt-get update -qq && apt-get install -y -qq wrk; }; \
		else echo "Install wrk first: sudo apt-get install wrk"; exit 1; fi; }
	@command -v pgbench >/dev/null || { echo "pgbench (postgresql-client) is needed"; exit 1; }
	$(PY) -m benchmarks.http_bench --database $(PG_BENCH_URL) --port $(BENCH_PORT) $(BENCH_ARGS)

# Webhook intake latency on PostgreSQL: 16 concurrent signed deliveries to gunicorn, the status API armed to time out.
bench-webhooks: venv
	DATABASE_URL=$(PG_BENCH_URL)_webhooks $(PY) -m benchmarks.webhook_intake $(BENCH_ARGS)

# 32 customers pay at once through `make run` (started and stopped by the script) on PostgreSQL; prints the figures.
load: venv
	$(PY) -m benchmarks.sandbox_load $(LOAD_ARGS)

# Chaos with real processes on PostgreSQL (docs/reliability.md): customers pay while web processes and workers are
# killed with SIGKILL 20 times and PostgreSQL restarts once; then reconciliation and the invariants. About 5 minutes;
# it restarts the local PostgreSQL cluster (needs root), so it is not part of `make test` or CI.
chaos: venv
	$(PY) -m benchmarks.chaos $(CHAOS_ARGS)

clean:
	rm -rf $(VENV) data
