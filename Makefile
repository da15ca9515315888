# payfirst: `make run` serves the demo, `make test` runs the whole suite.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV ?= .venv
PY := $(VENV)/bin/python
PORT ?= 8000
PG_URL ?= postgres://postgres@127.0.0.1:5432/payfirst
PG_ADMIN_URL ?= postgres://postgres@127.0.0.1:5432/postgres
PG_BENCH_URL ?= postgres://postgres@127.0.0.1:5432/payfirst_bench

export PAYFIRST_PUBLIC_BASE_URL ?= http://127.0.0.1:$(PORT)

.PHONY: run test test-sqlite test-postgres lint venv worker bench bench-webhooks clean

venv: $(VENV)/.installed

$(VENV)/.installed: requirements.txt requirements-dev.txt requirements.lock
	@command -v $(PYTHON) >/dev/null || { echo "$(PYTHON) not found; set PYTHON=/path/to/python3.11"; exit 1; }
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check -r requirements-dev.txt -c requirements.lock
	touch $@

# The demo: SQLite by default (or DATABASE_URL), sandbox gateways, demo data, one worker beside gunicorn.
# Ctrl-C reaches the worker and the web server directly (one process group), so the shell only waits: the worker
# gets one signal and finishes its running task. A TERM or HUP sent to the shell is passed on to both, once.
run: venv
	@mkdir -p data
	PAYFIRST_DEMO=1 $(PY) manage.py migrate --noinput
	PAYFIRST_DEMO=1 $(PY) manage.py seed_demo
	@echo "payfirst demo on http://127.0.0.1:$(PORT)  (API docs: /api/docs/, admin: /admin/ as admin@example.com / admin)"
	@rm -rf data/prometheus && mkdir -p data/prometheus
	@export PAYFIRST_DEMO=1 PROMETHEUS_MULTIPROC_DIR="$(CURDIR)/data/prometheus"; interrupted=; \
	trap 'interrupted=1; kill -TERM $$web 2>/dev/null' INT; \
	trap 'interrupted=1; kill -TERM $$web $$worker 2>/dev/null' TERM HUP; \
	$(PY) manage.py run_worker --no-reload & worker=$$!; \
	if [ -n "$$DEBUG" ]; then $(PY) manage.py runserver --noreload 127.0.0.1:$(PORT) & web=$$!; \
	else $(VENV)/bin/gunicorn config.wsgi -c config/gunicorn.py --bind 127.0.0.1:$(PORT) & web=$$!; fi; \
	while kill -0 $$web 2>/dev/null; do wait $$web; done; \
	[ -n "$$interrupted" ] || kill -TERM $$worker 2>/dev/null; \
	while kill -0 $$worker 2>/dev/null; do wait $$worker; done

worker: venv
	@mkdir -p data/prometheus
	PAYFIRST_DEMO=1 PROMETHEUS_MULTIPROC_DIR="$(CURDIR)/data/prometheus" $(PY) manage.py run_worker

# Lint and types: ruff, the formatter, mypy (django-stubs, drf-stubs) and the import contracts in pyproject.toml.
lint: venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy payfirst config
	$(VENV)/bin/lint-imports

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

bench: venv
	DATABASE_URL=$(PG_BENCH_URL) $(PY) -m benchmarks.run $(BENCH_ARGS)

# Webhook intake latency on PostgreSQL: 16 concurrent signed deliveries to gunicorn, the status API armed to time out.
bench-webhooks: venv
	DATABASE_URL=$(PG_BENCH_URL)_webhooks $(PY) -m benchmarks.webhook_intake $(BENCH_ARGS)

clean:
	rm -rf $(VENV) data
