"""The bench's own parsing of what it reads from the system."""

from __future__ import annotations

from benchmarks.http_bench import gunicorn_workers_rss

# `ps -o pid=,ppid=,rss=,args= -g <make>` while `make run` serves: make, its shell (whose command line names
# gunicorn), the gunicorn master, its two workers, the sandbox's gunicorn and a task worker.
LISTING = """\
  100     1   4000 make --no-print-directory run PORT=8310 WORKERS=2
  101   100   3500 /bin/bash -c export PAYFIRST_DEMO=1; .venv/bin/gunicorn config.wsgi -c config/gunicorn.py & web=$!
  102   101  35840 /work/p/.venv/bin/python .venv/bin/gunicorn config.wsgi -c config/gunicorn.py --bind 127.0.0.1:8310
  103   102 117760 /work/p/.venv/bin/python .venv/bin/gunicorn config.wsgi -c config/gunicorn.py --bind 127.0.0.1:8310
  104   102 118784 /work/p/.venv/bin/python .venv/bin/gunicorn config.wsgi -c config/gunicorn.py --bind 127.0.0.1:8310
  105   101  60000 /work/p/.venv/bin/python /work/p/.venv/bin/gunicorn sandbox.wsgi -c sandbox/gunicorn.py
  106   101  90000 .venv/bin/python manage.py run_worker --no-reload
"""


def test_only_the_workers_are_counted_not_the_master_or_the_shell():
    assert gunicorn_workers_rss(LISTING) == [(103, 115.0), (104, 116.0)]


def test_no_gunicorn_no_workers():
    assert gunicorn_workers_rss("  100     1   4000 make run\n") == []
