"""Rate limits that hold across processes: the counters live in the shared cache (the database table by default,
Redis with CACHE_URL), so separate OS processes hitting one limit together get exactly its allowance between them.
Also: sign-in per account across addresses and across the API and the admin, and the payments endpoints' limits."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from django.conf import settings
from django.core.cache import cache, caches
from django.db import connection
from django.test import override_settings
from django.test.utils import CaptureQueriesContext

from payfirst.core.cache import DatabaseCache
from payfirst.core.throttling import Quota, Rate, hit
from payfirst.ops.tasks import periodic_tasks, prune_cache_task, run_queued_tasks

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parents[3]

# One worker process: N hits on one (scope, ident) under `limit` per (practically) endless window; prints how many
# were allowed. Two of these run at once against the same cache.
WORKER = """
import os, sys
import django
django.setup()
from payfirst.core.cache import DatabaseCache
from payfirst.core.throttling import Rate, hit
from payfirst.ops.tasks import periodic_tasks, prune_cache_task, run_queued_tasks
scope, hits, limit = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
rate = Rate(limit=limit, period=10**9)
print(sum(1 for _ in range(hits) if hit(scope=scope, ident="ip:198.51.100.1", rate=rate) is None))
"""


def _redis_reachable() -> bool:
    try:
        socket.create_connection(("127.0.0.1", 6379), timeout=1).close()
    except OSError:
        return False
    return True


def _backends() -> list[str]:
    # Redis joins where it runs (CI starts it); the database cache, the default, is always tested.
    return ["database", "redis"] if _redis_reachable() else ["database"]


def _environment(backend: str, tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in {"CACHE_URL", "DATABASE_URL"}}
    env["DJANGO_SETTINGS_MODULE"] = "config.settings_test"
    if backend == "redis":
        env["CACHE_URL"] = "redis://127.0.0.1:6379/15"
        env["DATABASE_URL"] = f"sqlite:///{tmp_path / 'unused.sqlite3'}"
    elif connection.vendor == "postgresql":
        # The test database itself: its cache table was created with it, and the workers commit on their own.
        db = settings.DATABASES["default"]
        login = quote(db["USER"]) + (":" + quote(db["PASSWORD"]) if db.get("PASSWORD") else "")
        env["DATABASE_URL"] = f"postgres://{login}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"
    else:
        # An in-memory SQLite test database is invisible to other processes: the workers share a file instead.
        env["DATABASE_URL"] = f"sqlite:///{tmp_path / 'shared.sqlite3'}"
    return env


@pytest.mark.parametrize("backend", _backends())
def test_two_processes_share_one_limit_and_never_let_more_through(backend, tmp_path):
    env = _environment(backend, tmp_path)
    if env["DATABASE_URL"].startswith("sqlite") and backend == "database":
        made = subprocess.run(
            [sys.executable, "manage.py", "createcachetable"], cwd=ROOT, env=env, capture_output=True, timeout=120
        )
        assert made.returncode == 0, made.stderr
    scope, hits, limit = f"xproc-{uuid.uuid4().hex}", 40, 50
    workers = [
        subprocess.Popen(
            [sys.executable, "-c", WORKER, scope, str(hits), str(limit)],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    allowed = []
    for worker in workers:
        out, err = worker.communicate(timeout=180)
        assert worker.returncode == 0, err[-2000:]
        allowed.append(int(out.strip().splitlines()[-1]))
    # 80 hits on a limit of 50: exactly 50 pass between the two processes. With counters per process each would
    # let its 40 through (80); with a read-then-write counter, concurrent hits would be lost and more would pass.
    assert sum(allowed) == limit, allowed
    assert all(count > 0 for count in allowed), allowed


def test_hit_counts_within_the_window_and_says_how_long_to_wait():
    rate = Rate(limit=2, period=60)
    assert hit(scope="t", ident="a", rate=rate) is None
    assert hit(scope="t", ident="a", rate=rate) is None
    wait = hit(scope="t", ident="a", rate=rate)
    assert wait is not None and 1 <= wait <= 60
    assert hit(scope="t", ident="b", rate=rate) is None  # someone else has their own allowance
    assert hit(scope="u", ident="a", rate=rate) is None  # and each scope its own count


def test_a_quota_is_used_up_by_its_hits_and_a_statement_can_test_the_mark():
    cache.clear()
    quota = Quota(scope="test_quota", ident="ip:198.51.100.7", rate=Rate(limit=2, period=3600))

    def refused_in_sql() -> bool:
        sql, params = quota.refused_sql() or ("", {})
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT 1 WHERE {sql}", params)
            return cursor.fetchone() is not None

    try:
        assert (quota.wait(), refused_in_sql()) == (None, False)
        quota.hit()
        assert (quota.wait(), refused_in_sql()) == (None, False)
        quota.hit()
        wait = quota.wait()
        assert wait is not None and 1 <= wait <= 3600 and refused_in_sql()
        assert 1 <= quota.seconds_left() <= 3600
    finally:
        cache.clear()


@override_settings(CACHES={"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}})
def test_a_quota_leaves_the_test_to_a_cache_read_when_the_cache_is_not_the_database():
    quota = Quota(scope="test_quota", ident="ip:198.51.100.8", rate=Rate(limit=1, period=3600))
    assert quota.refused_sql() is None
    quota.hit()
    assert quota.wait() is not None


def test_the_default_cache_is_the_database_table_shared_by_every_process():
    assert settings.CACHES["default"]["BACKEND"] == "payfirst.core.cache.DatabaseCache"
    cache.add("probe", 1, timeout=60)
    assert cache.incr("probe", 4) == 5 and cache.get("probe") == 5
    with pytest.raises(ValueError):
        cache.incr("never-set")


def test_the_database_cache_counts_a_hit_in_three_statements_and_keeps_add_semantics():
    """A counted request costs `add` (one INSERT ... ON CONFLICT) and `incr` (a read and a compare-and-set UPDATE)."""
    with CaptureQueriesContext(connection) as queries:
        assert cache.add("counted", 0, timeout=60) is True
        assert cache.incr("counted") == 1
    assert len(queries.captured_queries) <= 3  # one in CULL_CHECK_EVERY adds also counts the table
    assert cache.add("counted", 0, timeout=60) is False  # a live entry stays as it is
    assert cache.get("counted") == 1
    cache.set("lapsed", 7, timeout=-1)  # already expired: gone for get, incr and add alike
    assert cache.get("lapsed") is None
    with pytest.raises(ValueError):
        cache.incr("lapsed")
    assert cache.add("lapsed", 2, timeout=60) is True and cache.incr("lapsed", 3) == 5


def test_the_worker_prunes_the_database_cache_every_minute(settings):
    """`add` never counts the table; the periodic prune deletes expired entries and culls past MAX_ENTRIES."""
    assert periodic_tasks()[prune_cache_task.module_path].every == timedelta(minutes=1)
    cache.clear()
    for number in range(3):
        cache.set(f"gone-{number}", number, timeout=-1)
    cache.add("live", 1, timeout=60)
    result = prune_cache_task.enqueue()
    run_queued_tasks()
    result.refresh()
    assert result.return_value == 3
    assert cache.get("live") == 1
    # Past MAX_ENTRIES (here 4), a share of the live entries goes too (CULL_FREQUENCY 3: a third).
    for number in range(8):
        cache.add(f"many-{number}", number, timeout=60)
    database_cache = caches["default"]
    assert isinstance(database_cache, DatabaseCache)
    database_cache._max_entries = 4  # the configured limit, read from OPTIONS at start-up
    try:
        assert database_cache.prune() == 0
    finally:
        database_cache._max_entries = settings.CACHES["default"]["OPTIONS"]["MAX_ENTRIES"]
    with connection.cursor() as cursor:
        cursor.execute("SELECT COUNT(*) FROM payfirst_cache")
        assert cursor.fetchone()[0] == 9 - 9 // 3


# --- Sign-in: per address and per account, API and admin ---------------------------------------------------------


def _rates(**rates: str) -> dict[str, Any]:
    return {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {**settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], **rates},
    }


def _throttled(response: Any) -> None:
    assert response.status_code == 429, response.content
    assert response.json()["error"]["code"] == "throttled"
    assert int(response["Retry-After"]) >= 1


def _sign_in(client: Any, email: str, address: str) -> Any:
    body = {"email": email, "password": "wrong"}
    return client.post("/api/auth/token/", body, content_type="application/json", REMOTE_ADDR=address)


def _admin_sign_in(client: Any, email: str, address: str) -> Any:
    return client.post("/admin/login/", {"username": email, "password": "wrong"}, REMOTE_ADDR=address)


def test_sign_in_is_limited_per_account_whatever_address_it_comes_from(client, user):
    with override_settings(REST_FRAMEWORK=_rates(sign_in_account="3/minute", token="100/minute")):
        for n in range(3):
            assert _sign_in(client, "Asha@Example.com", f"198.51.100.{n}").status_code == 401
        _throttled(_sign_in(client, "asha@example.com", "198.51.100.99"))
        # Another account is not affected.
        assert _sign_in(client, "ravi@example.com", "198.51.100.99").status_code == 401


def test_the_admin_sign_in_is_limited_per_address_and_shares_the_account_count_with_the_api(client, staff_user):
    with override_settings(REST_FRAMEWORK=_rates(admin_login="2/minute", sign_in_account="100/minute")):
        assert _admin_sign_in(client, "x@example.com", "203.0.113.5").status_code == 200  # the form again
        assert _admin_sign_in(client, "y@example.com", "203.0.113.5").status_code == 200
        _throttled(_admin_sign_in(client, "z@example.com", "203.0.113.5"))
        assert _admin_sign_in(client, "z@example.com", "203.0.113.6").status_code == 200

    with override_settings(
        REST_FRAMEWORK=_rates(admin_login="100/minute", sign_in_account="3/minute", token="1000/minute")
    ):
        assert _sign_in(client, "staff@example.com", "203.0.113.7").status_code == 401
        assert _sign_in(client, "staff@example.com", "203.0.113.8").status_code == 401
        assert _admin_sign_in(client, "staff@example.com", "203.0.113.9").status_code == 200
        # The fourth try at the account, through either door, is refused, even with the right password.
        response = client.post(
            "/admin/login/",
            {"username": "staff@example.com", "password": "correct-horse-battery"},
            REMOTE_ADDR="203.0.113.10",
        )
        _throttled(response)


def test_the_admin_sign_in_page_itself_is_not_counted(client):
    with override_settings(REST_FRAMEWORK=_rates(admin_login="1/minute")):
        assert [client.get("/admin/login/").status_code for _ in range(3)] == [200] * 3


# --- Payments and refunds: per signed-in user, writes only ----------------------------------------------------------


@pytest.mark.parametrize(
    "scope, method, path",
    [
        ("payments_create", "post", "/api/payments/create-from-cart/"),
        ("payments_confirm", "post", "/api/payments/confirm-razorpay/"),
        ("payments_cancel", "post", "/api/payments/1/cancel/"),
        ("refunds", "post", "/api/payments/1/refunds/"),
    ],
)
def test_payment_endpoints_answer_429_with_retry_after_past_their_rate(auth_client, scope, method, path):
    with override_settings(REST_FRAMEWORK=_rates(**{scope: "2/minute"})):
        first = [getattr(auth_client, method)(path, {}, format="json").status_code for _ in range(2)]
        assert 429 not in first
        _throttled(getattr(auth_client, method)(path, {}, format="json"))


def test_payment_limits_are_per_user_and_reading_is_not_counted(auth_client, other_client):
    with override_settings(REST_FRAMEWORK=_rates(refunds="1/minute")):
        assert [auth_client.get("/api/payments/1/refunds/").status_code for _ in range(3)] == [404] * 3
        assert auth_client.post("/api/payments/1/refunds/", {}, format="json").status_code != 429
        _throttled(auth_client.post("/api/payments/1/refunds/", {}, format="json"))
        assert other_client.post("/api/payments/1/refunds/", {}, format="json").status_code != 429


def test_a_rate_of_off_turns_a_limit_off(auth_client):
    with override_settings(REST_FRAMEWORK=_rates(payments_cancel="off")):
        codes = {auth_client.post("/api/payments/1/cancel/").status_code for _ in range(30)}
    assert codes == {404}
