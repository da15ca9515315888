# payfirst: `make run` serves the demo, `make test` runs the whole suite.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV ?= .venv
PY := $(VENV)/bin/python
PORT ?= 8000
PG_URL ?= postgres://postgres@127.0.0.1:5432/payfirst
PG_ADMIN_URL ?= postgres://postgres@127.0.0.1:5432/postgres

export PAYFIRST_PUBLIC_BASE_URL ?= http://127.0.0.1:$(PORT)

.PHONY: run test test-sqlite test-postgres venv worker bench clean

venv: $(VENV)/.installed

$(VENV)/.installed: requirements.txt requirements-dev.txt requirements.lock
	@command -v $(PYTHON) >/dev/null || { echo "$(PYTHON) not found; set PYTHON=/path/to/python3.11"; exit 1; }
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check -r requirements-dev.txt -c requirements.lock
	touch $@

# The demo: SQLite by default (or DATABASE_URL), sandbox gateways, demo data, one worker beside gunicorn.
run: venv
	@mkdir -p data
	PAYFIRST_DEMO=1 $(PY) manage.py migrate --noinput
	PAYFIRST_DEMO=1 $(PY) manage.py seed_demo
	@echo "payfirst demo on http://127.0.0.1:$(PORT)  (API docs: /api/docs/, admin: /admin/ as admin@example.com / admin)"
	@PAYFIRST_DEMO=1 $(PY) manage.py run_worker & worker=$$!; \
	trap 'kill $$worker 2>/dev/null' EXIT INT TERM; \
	if [ -n "$$DEBUG" ]; then PAYFIRST_DEMO=1 $(PY) manage.py runserver 127.0.0.1:$(PORT); \
	else PAYFIRST_DEMO=1 $(VENV)/bin/gunicorn config.wsgi --bind 127.0.0.1:$(PORT) --workers 2 --threads 4 --timeout 60 --access-logfile -; fi

worker: venv
	PAYFIRST_DEMO=1 $(PY) manage.py run_worker

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
	DATABASE_URL=$(PG_URL) $(PY) -m benchmarks.run

clean:
	rm -rf $(VENV) data
