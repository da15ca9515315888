"""`make bench`: payfirst through HTTP, as customers load it, against the framework's floor and PostgreSQL's limit.

    make bench            # or: .venv/bin/python -m benchmarks.http_bench [--database ...] [--port ...] [--cycles 3]

It (re)creates the PostgreSQL database named by --database, starts `make run` on --port exactly as shipped (gunicorn,
the worker, the sandbox server on --port + 1 with its own SQLite database), and from loopback, at 16 connections:

  read       wrk on GET /api/cart/ (one product line, one slot, one plan), GET /api/catalog/products/ and
             GET /api/payments/{id}/, each interleaved with wrk on GET /healthz of the same server
  checkout   16 customers at a time: create-from-cart -> pay on the sandbox's hosted page -> confirm-razorpay, carts of
             a product, a service slot and a plan; against pgbench replaying the SQL that checkouts sent
  webhook    signed Razorpay payment.captured deliveries for pending payments, sent by 16 connections, until every
             payment is captured and fulfilled; against pgbench replaying the SQL that deliveries sent

The SQL for pgbench is captured from PostgreSQL's own log (`ALTER DATABASE ... SET log_statement = 'all'` for a short
window in which one customer at a time goes through the scenario), never written by hand. Each pair runs A/B
--cycles times, interleaved. It prints a table and writes docs/benchmarks/results.csv and docs/benchmarks/results.png.
Throttles stay on; their rates are raised for the run through the THROTTLE_* variables.
"""

from __future__ import annotations

import argparse
import csv
import os
import re
import shutil
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from datetime import time as clock
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import psycopg
from psycopg import sql

from benchmarks.sandbox_load import REQUEST_TIMEOUT, recreate_database, wait_until_up

ROOT = Path(__file__).resolve().parents[1]
OUT_DIR = ROOT / "docs" / "benchmarks"
PG_LOG = Path(os.environ.get("PG_LOG", "/var/log/postgresql/postgresql-15-main.log"))
CONNECTIONS = 16
SETTLE_IDLE = 0.9  # before each measurement, the machine's CPUs at least this idle (see settle)
RAZORPAY_WEBHOOK_SECRET = "sandbox_webhook_secret"
SCENARIOS = ("read", "checkout", "webhook")
RAISED_THROTTLES = {
    name: "1000000/minute"
    for name in ("THROTTLE_REGISTER", "THROTTLE_TOKEN", "THROTTLE_PAYMENTS_CREATE", "THROTTLE_PAYMENTS_CONFIRM")
}


# ---------------------------------------------------------------------------------------------------- measurements
@dataclass
class Measure:
    scenario: str
    side: str  # "A" (payfirst) or "B" (the floor: /healthz or pgbench)
    target: str
    cycle: int
    requests: int
    seconds: float
    rate: float  # per second: requests for reads, checkouts / deliveries for the others
    p50_ms: float | None
    p99_ms: float | None
    errors: int
    extra: dict[str, Any] = field(default_factory=dict)


ROLES = ("web", "worker", "sandbox", "postgres", "client")


def cpu_seconds_by_role() -> dict[int, tuple[str, float]]:
    """{pid: (role, CPU seconds used so far, user + system)} of each live process with a role: payfirst's gunicorn
    workers (web), its task workers, the sandbox server, PostgreSQL's processes, and this client."""
    tick = os.sysconf("SC_CLK_TCK")
    used: dict[int, tuple[str, float]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            args = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:  # the process ended while being read
            continue
        name = stat[stat.index("(") + 1 : stat.rindex(")")]
        fields = stat[stat.rindex(")") + 2 :].split()
        seconds = (int(fields[11]) + int(fields[12])) / tick  # utime, stime
        if int(entry.name) == os.getpid():
            role = "client"
        elif name == "postgres" or args.startswith("postgres"):
            role = "postgres"
        elif "gunicorn config.wsgi" in args:
            role = "web"
        elif "run_worker" in args:
            role = "worker"
        elif "-m sandbox" in args or "sandbox.wsgi" in args:
            role = "sandbox"
        else:
            continue
        used[int(entry.name)] = (role, seconds)
    return used


def cpu_per_item(
    before: dict[int, tuple[str, float]], after: dict[int, tuple[str, float]], items: int
) -> dict[str, float]:
    """CPU milliseconds per item (a checkout, a delivery) each role spent between two readings. A process that
    ended in between is left out (what it spent in the window is lost), one that started counts in full."""
    spent = dict.fromkeys(ROLES, 0.0)
    for pid, (role, seconds) in after.items():
        earlier = before.get(pid)
        spent[role] += seconds - (earlier[1] if earlier is not None and earlier[0] == role else 0.0)
    return {f"cpu_{role}_ms": spent[role] * 1000 / items for role in ROLES}


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(fraction * len(ordered)) - 1))]


def _ms(text: str) -> float:
    found = re.fullmatch(r"([0-9.]+)(us|ms|s|m)", text)
    if found is None:
        raise SystemExit(f"wrk printed a latency this cannot read: {text!r}")
    return float(found.group(1)) * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}[found.group(2)]


def _cpu_times() -> tuple[int, int]:
    """(idle, total) jiffies of all CPUs since boot, from /proc/stat."""
    fields = [int(value) for value in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    return fields[3] + fields[4], sum(fields)  # idle + iowait


def settle(*, idle: float = SETTLE_IDLE, window: float = 0.5, timeout: float = 20.0) -> None:
    """Wait until the machine's CPUs were at least `idle` idle over `window` seconds, or `timeout` passed (then say
    so: the measurement that follows ran beside other work). What an earlier scenario left running (the workers'
    queued e-mails, the sandbox's deliveries, PostgreSQL's checkpoint and autovacuum after pgbench) would otherwise
    take cores from whichever side of the next pair happens to run first."""
    deadline = time.monotonic() + timeout
    while True:
        idle_before, total_before = _cpu_times()
        time.sleep(window)  # the window the idle share is measured over, not a wait for a condition
        idle_after, total_after = _cpu_times()
        seen = (idle_after - idle_before) / max(total_after - total_before, 1)
        if seen >= idle:
            return
        if time.monotonic() > deadline:
            print(f"    (the machine was only {seen:.0%} idle after {timeout:.0f} s; measuring anyway)", flush=True)
            return


def run_wrk(url: str, seconds: int, token: str | None = None) -> tuple[float, float, float, int, int]:
    """(requests/s, p50 ms, p99 ms, errors, requests) from wrk at CONNECTIONS connections on two threads."""
    command = ["wrk", "-t2", f"-c{CONNECTIONS}", f"-d{seconds}s", "--latency", "--timeout", "10s"]
    if token:
        command += ["-H", f"Authorization: Bearer {token}"]
    output = subprocess.run([*command, url], capture_output=True, text=True, check=True).stdout
    if "Latency Distribution" not in output:
        raise SystemExit(f"wrk gave no latency distribution:\n{output}")
    rate = float(re.search(r"Requests/sec:\s+([0-9.]+)", output).group(1))  # type: ignore[union-attr]
    distribution = output.split("Latency Distribution", 1)[1]
    p50 = _ms(re.search(r"^\s*50%\s+(\S+)", distribution, re.M).group(1))  # type: ignore[union-attr]
    p99 = _ms(re.search(r"^\s*99%\s+(\S+)", distribution, re.M).group(1))  # type: ignore[union-attr]
    total = int(re.search(r"(\d+) requests in", output).group(1))  # type: ignore[union-attr]
    errors = 0
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    if non_2xx:
        errors += int(non_2xx.group(1))
    socket = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output)
    if socket:
        errors += sum(int(group) for group in socket.groups())
    return rate, p50, p99, errors, total


def run_pgbench(database: str, script: Path, seconds: int) -> tuple[float, float | None, int]:
    """(transactions/s, mean latency ms, failed) of pgbench at CONNECTIONS clients replaying `script`."""
    parts = urlsplit(database)
    command = [
        "pgbench",
        "-n",
        "-h",
        parts.hostname or "127.0.0.1",
        "-p",
        str(parts.port or 5432),
        "-U",
        parts.username or "postgres",
        "-c",
        str(CONNECTIONS),
        "-j",
        "2",
        "-T",
        str(seconds),
        "-f",
        str(script),
        parts.path.lstrip("/"),
    ]
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    found = re.search(r"tps = ([0-9.]+)", result.stdout)
    if not found:
        raise SystemExit(f"pgbench failed:\n{result.stdout}\n{result.stderr}")
    latency = re.search(r"latency average = ([0-9.]+) ms", result.stdout)
    failed = re.search(r"number of failed transactions: (\d+)", result.stdout)
    return (
        float(found.group(1)),
        float(latency.group(1)) if latency else None,
        int(failed.group(1)) if failed else (0 if result.returncode == 0 else 1),
    )


# ------------------------------------------------------------------------------------------- the SQL from the log
class StatementLog:
    """Statements PostgreSQL logged for one database, read from the server's log between two points."""

    def __init__(self, admin: str, database_url: str, keep_pid: int) -> None:
        self.admin = admin
        self.keep_pid = keep_pid  # the bench's own session: its polling is not the app's SQL
        self.name = urlsplit(database_url).path.lstrip("/")
        self.database_url = database_url

    def _set(self, value: str | None) -> None:
        with psycopg.connect(self.admin, autocommit=True) as connection:
            if value is None:
                connection.execute(sql.SQL("ALTER DATABASE {} RESET log_statement").format(sql.Identifier(self.name)))
            else:
                connection.execute(
                    sql.SQL("ALTER DATABASE {} SET log_statement = {}").format(
                        sql.Identifier(self.name), sql.Literal(value)
                    )
                )
            # A setting of the database reaches new sessions only: end the app's (it reconnects, health-checked).
            connection.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE datname = %s AND pid <> pg_backend_pid() AND pid <> %s",
                [self.name, self.keep_pid],
            )

    def start(self) -> int:
        self._set("all")
        return PG_LOG.stat().st_size

    def stop(self, offset: int) -> list[tuple[int, str]]:
        """(backend pid, statement) of every statement logged for the database since `offset`."""
        self._set(None)
        with PG_LOG.open("rb") as log:
            log.seek(offset)
            text = log.read().decode("utf-8", "replace")
        statements: list[tuple[int, str]] = []
        # (backend pid, the statement's lines, its parameters' lines once their DETAIL line came)
        current: tuple[int, list[str], list[str] | None] | None = None
        # Client-bound statements are logged as `statement:`; server-bound ones as `execute <name>:` with their
        # parameters on the next line, put back in so the replay runs the same values. Either may go on over
        # tab-indented lines (a value with a newline in it).
        entry = re.compile(r"\[(\d+)\] \S*@" + re.escape(self.name) + r" LOG:  (?:statement|execute [^:]+): (.*)")
        parameters = re.compile(r"\[(\d+)\] \S*@" + re.escape(self.name) + r" DETAIL:  parameters: (.*)")

        def finish(pid: int, lines: list[str], logged: list[str] | None) -> None:
            text = "\n".join(lines)
            statements.append((pid, text if logged is None else with_parameters(text, "\n".join(logged))))

        for line in text.splitlines():
            if line.startswith("\t") and current is not None:
                (current[1] if current[2] is None else current[2]).append(line[1:])
                continue
            found_parameters = parameters.search(line)
            if found_parameters and current is not None and current[2] is None:
                current = (current[0], current[1], [found_parameters.group(2)])
                continue
            if current is not None:
                finish(*current)
                current = None
            found = entry.search(line)
            if found:
                current = (int(found.group(1)), [found.group(2)], None)
        if current is not None:
            finish(*current)
        return statements

    def mark(self, label: str) -> None:
        with psycopg.connect(self.database_url, autocommit=True) as connection:
            connection.execute(sql.SQL("SELECT {}").format(sql.Literal(f"bench-mark {label}")))


def with_parameters(statement: str, logged: str) -> str:
    """A server-bound statement's text with its logged parameters (`$1 = 'x', $2 = NULL`) in place of $1, $2, …

    PostgreSQL logs every parameter as a quoted literal, which the replay's simple protocol types from its context.
    A `(VALUES …)` list in FROM gives it none (its columns would be text), so there an integer is written bare, as the
    app sent it."""
    values = dict(re.findall(r"\$(\d+) = ('(?:[^']|'')*'|NULL)", logged))
    in_values = _values_list_positions(statement)

    def literal(number: re.Match[str]) -> str:
        value = values.get(number.group(1), number.group(0))
        if number.start() in in_values and re.fullmatch(r"'-?\d+'", value):
            return value[1:-1]
        return value

    return re.sub(r"\$(\d+)\b", literal, statement)


def _values_list_positions(statement: str) -> set[int]:
    """Offsets of the `$n` placeholders that sit inside a parenthesised `(VALUES …)` list."""
    inside: set[int] = set()
    stack: list[bool] = []
    quoted = False
    for index, char in enumerate(statement):
        if char == "'":
            quoted = not quoted
        elif quoted:
            continue
        elif char == "(":
            stack.append(
                (bool(stack) and stack[-1]) or statement[index + 1 : index + 16].lstrip().upper().startswith("VALUES")
            )
        elif char == ")" and stack:
            stack.pop()
        elif char == "$" and stack and stack[-1]:
            inside.add(index)
    return inside


def split_marked(statements: list[tuple[int, str]]) -> dict[str, list[tuple[int, str]]]:
    """Statements between `SELECT 'bench-mark <label>'` lines, by label (the marks themselves left out)."""
    parts: dict[str, list[tuple[int, str]]] = {}
    label: str | None = None
    for pid, statement in statements:
        found = re.fullmatch(r"SELECT 'bench-mark (.+)'", statement.strip())
        if found:
            label = found.group(1)
            parts[label] = []
        elif label is not None:
            parts[label].append((pid, statement))
    return parts


def worker_pids(statements: list[tuple[int, str]]) -> set[int]:
    """Sessions of the task worker: the only ones claiming tasks with SKIP LOCKED."""
    return {pid for pid, statement in statements if "SKIP LOCKED" in statement}


def web_queries(statements: list[tuple[int, str]], workers: set[int]) -> int:
    """Statements the web process sent for the requests: not the worker's, not a new session's set-up, not the
    health check (`SELECT 1`) Django sends before reusing a persistent connection — one more round trip per request."""
    overhead = ("SELECT 1", "SELECT set_config('TimeZone', 'UTC', false)")
    return sum(1 for pid, statement in statements if pid not in workers and statement.strip() not in overhead)


def replay_script(per_client: list[list[str]], path: Path) -> Path:
    """A pgbench script: client i replays customer i's statements in one transaction, rolled back so it can repeat.
    Transaction control the app sent (BEGIN/COMMIT/SAVEPOINT ...) is left out: the whole replay is one transaction."""
    skip = re.compile(r"^\s*(BEGIN|COMMIT|ROLLBACK|SAVEPOINT|RELEASE SAVEPOINT|ROLLBACK TO SAVEPOINT)\b", re.I)
    lines: list[str] = []
    for index, statements in enumerate(per_client):
        lines.append(f"\\{'if' if index == 0 else 'elif'} :client_id % {len(per_client)} = {index}")
        lines.append("BEGIN;")
        for statement in statements:
            if skip.match(statement):
                continue
            lines.append(" ".join(statement.split()).rstrip(";") + ";")
        lines.append("ROLLBACK;")
    lines.append("\\endif")
    path.write_text("\n".join(lines) + "\n")
    return path


def copy_database(database: str, copy: str, workdir: Path) -> None:
    """`copy` (a database URL) becomes a copy of `database` as it is now: pg_dump, then pg_restore into a new one."""
    dump = workdir / "before-capture.dump"
    subprocess.run(["pg_dump", "-Fc", "-f", str(dump), "-d", database], check=True)
    recreate_database(copy)
    subprocess.run(["pg_restore", "--no-owner", "-d", copy, str(dump)], check=True)
    analyze(copy)


def analyze(database: str) -> None:
    """Fresh planner statistics for `database`, as autovacuum keeps them on a database in service. The bench writes
    its catalog, customers and carts moments before it measures, too few rows at a time for autovacuum's threshold,
    and pg_restore leaves a copy with none: plans made on those (and kept for a connection's life by the prepared
    reads) would be another database's."""
    with psycopg.connect(database, autocommit=True) as connection:
        connection.execute("ANALYZE")


# ------------------------------------------------------------------------------------------------- the app's data
def django_setup(database: str) -> None:
    os.environ.update({"DATABASE_URL": database, "PAYFIRST_DEMO": "1", "DJANGO_SETTINGS_MODULE": "config.settings"})
    import django

    django.setup()
    import logging

    logging.getLogger("httpx").setLevel(logging.WARNING)


@dataclass
class Catalog:
    variant_id: int
    package_id: int
    slot_date: str
    slot_time: str
    plan_code: str


def make_catalog(customers: int) -> Catalog:
    from payfirst.catalog.models import Plan, Product, Service, ServicePackage, Slot, Variant

    product = Product.objects.create(name="Brass Diya", slug=f"bench-diya-{uuid.uuid4().hex[:6]}")
    variant = Variant.objects.create(
        product=product, sku=f"BENCH-{uuid.uuid4().hex[:6]}", name="Large", price=19900, stock_on_hand=10 * customers
    )
    service = Service.objects.create(name="Satyanarayan Puja")
    package = ServicePackage.objects.create(service=service, name="Standard", price=250000)
    day = date.today() + timedelta(days=7)
    Slot.objects.create(service=service, date=day, time=clock(10, 0), capacity=10 * customers)
    plan = Plan.objects.create(code=f"bench-{uuid.uuid4().hex[:6]}", name="Monthly", price=99900, duration_days=30)
    return Catalog(variant.pk, package.pk, day.isoformat(), "10:00", plan.code)


@dataclass
class Customer:
    token: str
    address_id: int


def make_customers(count: int) -> list[Customer]:
    """Customers straight in the database (a password hash per sign-up would time the hasher), each with an address
    and an access token minted as POST /api/auth/token/ mints it."""
    from rest_framework_simplejwt.tokens import AccessToken

    from payfirst.accounts.models import Address, User

    run = uuid.uuid4().hex[:8]
    users = User.objects.bulk_create(
        [User(email=f"bench-{run}-{i}@example.com", full_name=f"Bench {i}", password="!") for i in range(count)]
    )
    addresses = Address.objects.bulk_create(
        [
            Address(
                user=user,
                full_name=user.full_name,
                phone="+919876543210",
                address_line_1="1 MG Road",
                city="Bengaluru",
                state="Karnataka",
                postal_code="560001",
                is_default=True,
            )
            for user in users
        ]
    )
    return [
        Customer(str(AccessToken.for_user(user)), address.pk) for user, address in zip(users, addresses, strict=True)
    ]


def in_parallel(items: list[Any], work: Callable[[Any], None], workers: int = CONNECTIONS) -> float:
    """Run work(item) for every item on `workers` threads; returns the wall seconds."""
    queue = list(reversed(items))
    lock = threading.Lock()
    failures: list[BaseException] = []

    def loop() -> None:
        while True:
            with lock:
                if not queue or failures:
                    return
                item = queue.pop()
            try:
                work(item)
            except BaseException as exc:  # noqa: BLE001 - re-raised in the caller's thread
                failures.append(exc)
                return

    threads = [threading.Thread(target=loop) for _ in range(workers)]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if failures:
        raise failures[0]
    return time.monotonic() - started


class Timings:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.seconds: dict[str, list[float]] = {}
        self.errors = 0
        self.samples: list[str] = []

    def call(self, step: str, request: Callable[[], httpx.Response], ok: tuple[int, ...] = (200, 201)) -> Any:
        started = time.monotonic()
        try:
            response = request()
        except httpx.TransportError as exc:
            with self.lock:
                self.errors += 1
                self.samples.append(f"{step}: {type(exc).__name__}")
            return None
        took = time.monotonic() - started
        with self.lock:
            self.seconds.setdefault(step, []).append(took)
            if response.status_code not in ok:
                self.errors += 1
                self.samples.append(f"{step} {response.status_code}: {response.text[:200]}")
                return None
        return response.json() if response.content else {}

    def all(self) -> list[float]:
        return [value for values in self.seconds.values() for value in values]


# One connection pool for every simulated customer: an httpx.Client of its own per customer built an SSL context
# (the CA bundle parsed) each time, which cost the client more CPU per checkout than payfirst's requests.
# An idle connection is dropped after 1 s, before gunicorn's own keep-alive (2 s) closes it under a request.
_TRANSPORT = httpx.HTTPTransport(limits=httpx.Limits(max_connections=4 * CONNECTIONS, keepalive_expiry=1.0))


def customer_http(app: str, token: str) -> httpx.Client:
    """A client that calls `app` as the customer with `token`, over the shared pool (not to be closed: closing a
    client closes its transport)."""
    return httpx.Client(
        base_url=app, headers={"Authorization": f"Bearer {token}"}, timeout=REQUEST_TIMEOUT, transport=_TRANSPORT
    )


def fill_cart(app: str, customer: Customer, catalog: Catalog) -> None:
    c = customer_http(app, customer.token)
    for body in (
        {"variant_id": catalog.variant_id, "quantity": 1},
        {"package_id": catalog.package_id, "selected_date": catalog.slot_date, "selected_time": catalog.slot_time},
        {"plan_code": catalog.plan_code},
    ):
        answer = c.post("/api/cart/add/", json=body)
        if answer.status_code != 201:
            raise SystemExit(f"cart add {body}: {answer.status_code} {answer.text[:300]}")


def create_payment(http: httpx.Client, customer: Customer, timings: Timings) -> Any:
    return timings.call(
        "create",
        lambda: http.post(
            "/api/payments/create-from-cart/",
            json={"gateway": "razorpay", "shipping_address_id": customer.address_id},
            headers={"Idempotency-Key": str(uuid.uuid4())},
        ),
    )


def checkout(app: str, customer: Customer, timings: Timings) -> None:
    http = customer_http(app, customer.token)
    payment = create_payment(http, customer, timings)
    if payment is None:
        return
    paid = timings.call(
        "pay", lambda: http.post(f"{payment['checkout']['sandbox_checkout_url']}pay", json={"outcome": "success"})
    )
    if paid is None:
        return
    timings.call("confirm", lambda: http.post("/api/payments/confirm-razorpay/", json=paid))


# ------------------------------------------------------------------------------------------------ make run, RSS
def start_make_run(port: int, database: str, workdir: Path) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "DATABASE_URL": database,
        "SANDBOX_DATABASE_URL": f"sqlite:///{workdir / 'sandbox.sqlite3'}",
        "LOG_LEVEL": "WARNING",
        **RAISED_THROTTLES,
    }
    env.pop("DEBUG", None)
    log = (workdir / "make-run.log").open("wb")
    return subprocess.Popen(
        # Two task workers, as docs/operations.md says to start a deployment with.
        ["make", "--no-print-directory", "run", f"PORT={port}", "WORKERS=2"],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def stop_make_run(make: subprocess.Popen[bytes]) -> None:
    os.killpg(make.pid, signal.SIGINT)
    try:
        make.wait(timeout=60)
    except subprocess.TimeoutExpired:
        os.killpg(make.pid, signal.SIGKILL)


def web_rss(make: subprocess.Popen[bytes]) -> list[tuple[int, float]]:
    """(pid, RSS MB) of each gunicorn worker process in make run's group."""
    listing = subprocess.run(
        ["ps", "-o", "pid=,ppid=,rss=,args=", "-g", str(make.pid)], capture_output=True, text=True
    ).stdout
    return gunicorn_workers_rss(listing)


def gunicorn_workers_rss(listing: str) -> list[tuple[int, float]]:
    """(pid, RSS MB) of each payfirst gunicorn worker in `ps -o pid=,ppid=,rss=,args=` output: the processes running
    `gunicorn config.wsgi` whose parent runs it too (the master's parent is make's shell, whose own command line
    names gunicorn but runs bash)."""
    rows = [line.split(None, 3) for line in listing.splitlines()]
    gunicorn = {
        int(row[0]): row
        for row in rows
        if len(row) == 4 and "gunicorn config.wsgi" in row[3] and Path(row[3].split()[0]).name.startswith("python")
    }
    return [(pid, int(row[2]) / 1024) for pid, row in gunicorn.items() if int(row[1]) in gunicorn]


# --------------------------------------------------------------------------------------------------------- main
def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database", default="postgres://postgres@127.0.0.1:5432/payfirst_bench")
    parser.add_argument("--port", type=int, default=8310)
    parser.add_argument("--cycles", type=int, default=3)
    parser.add_argument("--seconds", type=int, default=5, help="each wrk / pgbench run")
    parser.add_argument("--checkouts", type=int, default=48, help="checkouts per cycle")
    parser.add_argument("--out", type=Path, default=OUT_DIR)
    parser.add_argument(
        "--scenarios",
        default=",".join(SCENARIOS),
        help=f"comma-separated, of {', '.join(SCENARIOS)} (default: all); e.g. --scenarios checkout",
    )
    args = parser.parse_args()
    args.scenarios = {name.strip() for name in args.scenarios.split(",") if name.strip()}
    if not args.scenarios or args.scenarios - set(SCENARIOS):
        raise SystemExit(f"--scenarios takes names from {', '.join(SCENARIOS)}")
    if not shutil.which("wrk"):
        raise SystemExit("wrk is missing: apt-get install -y wrk")
    admin = args.database.rsplit("/", 1)[0] + "/postgres"
    app, sandbox = f"http://127.0.0.1:{args.port}", f"http://127.0.0.1:{args.port + 1}"

    recreate_database(args.database)
    workdir = Path(tempfile.mkdtemp(prefix="payfirst-bench-"))
    make = start_make_run(args.port, args.database, workdir)
    results: list[Measure] = []
    try:
        deadline = time.monotonic() + 180
        wait_until_up(f"{app}/healthz", deadline, make)
        wait_until_up(f"{sandbox}/healthz", deadline, make)
        print(f"make run is up: payfirst {app}, sandbox {sandbox} (log: {workdir / 'make-run.log'})", flush=True)
        results = bench(args, app, sandbox, workdir, make, admin)
    finally:
        stop_make_run(make)
    write_outputs(results, args.out)
    return 0


def bench(
    args: argparse.Namespace, app: str, sandbox: str, workdir: Path, make: subprocess.Popen[bytes], admin: str
) -> list[Measure]:
    django_setup(args.database)
    from payfirst.payments.models import Payment

    cycles, seconds = args.cycles, args.seconds
    total = 2 * cycles * args.checkouts + 64
    catalog = make_catalog(total)
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        log = StatementLog(admin, args.database, cursor.fetchone()[0])
    results: list[Measure] = []
    first_rss: list[tuple[int, float]] = []

    # One customer with the read scenario's cart and one pending payment.
    reader = make_customers(1)[0]
    fill_cart(app, reader, catalog)
    with httpx.Client(base_url=app, headers={"Authorization": f"Bearer {reader.token}"}, timeout=30) as http:
        payment = create_payment(http, reader, Timings())
    reads = {
        "GET /api/cart/": (f"{app}/api/cart/", reader.token),
        "GET /api/catalog/products/": (f"{app}/api/catalog/products/", None),
        "GET /api/payments/{id}/": (f"{app}/api/payments/{payment['id']}/", reader.token),
    }

    # The SQL of each scenario, one customer at a time, from PostgreSQL's log.
    capture_customers = make_customers(2 * CONNECTIONS)
    in_parallel(capture_customers, lambda customer: fill_cart(app, customer, catalog))
    webhook_bodies_for_capture = (
        prepare_webhooks(app, sandbox, workdir, capture_customers[CONNECTIONS:], Timings())
        if "webhook" in args.scenarios
        else []
    )
    # pgbench replays on a copy of the database as it is before the capture: its INSERTs meet no row the capture
    # committed, its conditional UPDATEs find the payments still PENDING, as the app found them.
    replay_database = args.database + "_replay"
    copy_database(args.database, replay_database, workdir)
    offset = log.start()
    for name, (url, token) in reads.items():
        for label in (f"warm {name}", f"read {name}"):  # the first on a new session also sets the session up
            log.mark(label)
            httpx.get(url, headers={"Authorization": f"Bearer {token}"} if token else {}, timeout=30).raise_for_status()
    for index, customer in enumerate(capture_customers[:CONNECTIONS]):
        log.mark(f"checkout {index}")
        timings = Timings()
        checkout(app, customer, timings)
        if timings.errors:
            raise SystemExit(f"checkout failed while capturing its SQL: {timings.samples}")
    for index, (payment_id, body) in enumerate(webhook_bodies_for_capture):
        log.mark(f"webhook {index}")
        send_webhooks(app, [(payment_id, body)], Timings(), workers=1)
        wait_fulfilled(Payment, [payment_id])
    log.mark("end")
    logged = log.stop(offset)
    workers = worker_pids(logged)
    captured = split_marked(logged)
    for label, statements in captured.items():
        text = "\n;\n".join(f"-- session {pid}\n{statement}" for pid, statement in statements)
        (workdir / f"sql-{re.sub(r'[^a-z0-9]+', '-', label.lower())}.txt").write_text(text)
    queries: dict[str, float] = {name: web_queries(captured[f"read {name}"], workers) for name in reads}
    # Replayed: everything the scenario made PostgreSQL run, the worker's share included.
    checkout_sql = [[statement for _, statement in captured[f"checkout {i}"]] for i in range(CONNECTIONS)]
    webhook_sql = [[statement for _, statement in captured.get(f"webhook {i}", [])] for i in range(CONNECTIONS)]
    # Per request: the web's statements; a checkout is two requests to payfirst (create, confirm).
    checkout_web = [web_queries(captured[f"checkout {i}"], workers) for i in range(CONNECTIONS)]
    queries["checkout"] = round(statistics.mean(checkout_web) / 2, 1)
    queries["webhook"] = round(
        statistics.mean(web_queries(captured.get(f"webhook {i}", []), workers) for i in range(CONNECTIONS)), 1
    )
    replayed = {"checkout": statistics.mean(map(len, checkout_sql)), "webhook": statistics.mean(map(len, webhook_sql))}
    checkout_script = replay_script(checkout_sql, workdir / "checkout.sql")
    webhook_script = replay_script(webhook_sql, workdir / "webhook.sql")
    print(f"web statements per request (from PostgreSQL's log): {queries}", flush=True)
    print(f"statements replayed by pgbench per checkout / delivery (web and worker): {replayed}", flush=True)

    # Customers for the checkout and webhook cycles, carts filled beforehand.
    buyers = make_customers(cycles * args.checkouts if "checkout" in args.scenarios else 0)
    payers = make_customers(cycles * args.checkouts if "webhook" in args.scenarios else 0)
    in_parallel(buyers + payers, lambda customer: fill_cart(app, customer, catalog))
    analyze(args.database)

    for cycle in range(1, cycles + 1):
        for name, (url, token) in reads.items() if "read" in args.scenarios else ():
            for side, target, tok in (("A", url, token), ("B", f"{app}/healthz", None)):
                settle()
                rate, p50, p99, errors, count = run_wrk(target, seconds, tok)
                results.append(
                    Measure(
                        name,
                        side,
                        "payfirst" if side == "A" else "GET /healthz",
                        cycle,
                        count,
                        seconds,
                        rate,
                        p50,
                        p99,
                        errors,
                        {"queries": queries[name] if side == "A" else 0},
                    )
                )
                print_row(results[-1])

        batch = slice((cycle - 1) * args.checkouts, cycle * args.checkouts)
        if "checkout" in args.scenarios:
            results += checkouts_cycle(
                app, buyers[batch], cycle, queries["checkout"], replay_database, checkout_script, seconds
            )
        if "webhook" in args.scenarios:
            results += webhooks_cycle(
                app,
                sandbox,
                workdir,
                payers[batch],
                cycle,
                queries["webhook"],
                replay_database,
                webhook_script,
                seconds,
            )
        if cycle == 1:
            first_rss = web_rss(make)
            print("RSS of each web process after cycle 1: " + ", ".join(f"{mb:.0f} MB" for _, mb in first_rss))

    rss = web_rss(make)
    served = sum(m.requests for m in results if m.side == "A" or m.target == "GET /healthz")
    for measure in results:
        measure.extra["rss_mb_after_cycle_1"] = " ".join(f"{mb:.0f}" for _, mb in first_rss)
        measure.extra["rss_mb"] = " ".join(f"{mb:.0f}" for _, mb in rss)
    print(f"\nRSS of each web process after {served} requests: " + ", ".join(f"{mb:.0f} MB" for _, mb in rss))
    return results


def checkouts_cycle(
    app: str, batch: list[Customer], cycle: int, queries: float, replay_database: str, script: Path, seconds: int
) -> list[Measure]:
    """One cycle of the checkout pair: the batch's checkouts, 16 at a time, then pgbench replaying their SQL."""
    timings = Timings()
    settle()
    cpu_before = cpu_seconds_by_role()
    wall = in_parallel(batch, lambda customer, t=timings: checkout(app, customer, t))
    cpu = cpu_per_item(cpu_before, cpu_seconds_by_role(), len(batch))
    steps = [s for step in ("create", "confirm") for s in timings.seconds.get(step, [])]
    mine = Measure(
        "checkout",
        "A",
        "payfirst (create, pay, confirm)",
        cycle,
        len(batch),
        wall,
        len(batch) / wall,
        statistics.median(steps) * 1000,
        percentile(steps, 0.99) * 1000,
        timings.errors,
        {
            "queries": queries,
            "pay_p99_ms": percentile(timings.seconds.get("pay", [0.0]), 0.99) * 1000,
            "create_p50_ms": statistics.median(timings.seconds.get("create", [0.0])) * 1000,
            "create_p99_ms": percentile(timings.seconds.get("create", [0.0]), 0.99) * 1000,
            "confirm_p50_ms": statistics.median(timings.seconds.get("confirm", [0.0])) * 1000,
            "confirm_p99_ms": percentile(timings.seconds.get("confirm", [0.0]), 0.99) * 1000,
            **cpu,
        },
    )
    print_row(mine)
    print(
        "    "
        + "  ".join(
            f"{key} {mine.extra[key]:.1f}" for key in sorted(mine.extra) if key.endswith("_ms") and key[:4] != "cpu_"
        )
    )
    print_cpu("checkout", cpu)
    for sample in timings.samples[:3]:
        print("   ", sample)
    return [mine, pgbench_floor("checkout", cycle, replay_database, script, seconds)]


def pgbench_floor(scenario: str, cycle: int, replay_database: str, script: Path, seconds: int) -> Measure:
    """The B side of a checkout or webhook pair: pgbench replaying the scenario's SQL, on an idle machine."""
    settle()
    tps, latency, failed = run_pgbench(replay_database, script, seconds)
    floor = Measure(scenario, "B", "pgbench, its SQL", cycle, 0, seconds, tps, latency, None, failed)
    print_row(floor)
    return floor


def print_cpu(item: str, cpu: dict[str, float]) -> None:
    print(f"    CPU ms per {item}: " + "  ".join(f"{role} {cpu[f'cpu_{role}_ms']:.1f}" for role in ROLES))


def webhooks_cycle(
    app: str,
    sandbox: str,
    workdir: Path,
    group: list[Customer],
    cycle: int,
    queries: float,
    replay_database: str,
    script: Path,
    seconds: int,
) -> list[Measure]:
    """One cycle of the webhook pair: deliveries for the group's paid payments until fulfilled, then pgbench."""
    from payfirst.payments.models import Payment

    bodies = prepare_webhooks(app, sandbox, workdir, group, Timings())
    timings = Timings()
    settle()
    cpu_before = cpu_seconds_by_role()
    started = time.monotonic()
    send_webhooks(app, bodies, timings)
    answered = time.monotonic() - started
    wait_fulfilled(Payment, [payment_id for payment_id, _ in bodies])
    wall = time.monotonic() - started
    cpu = cpu_per_item(cpu_before, cpu_seconds_by_role(), len(bodies))
    answers = timings.all()
    mine = Measure(
        "webhook",
        "A",
        "payfirst (to fulfilment)",
        cycle,
        len(bodies),
        wall,
        len(bodies) / wall,
        statistics.median(answers) * 1000,
        percentile(answers, 0.99) * 1000,
        timings.errors,
        {"queries": queries, "answer_rate": len(bodies) / answered, **cpu},
    )
    print_row(mine)
    print_cpu("delivery", cpu)
    return [mine, pgbench_floor("webhook", cycle, replay_database, script, seconds)]


def prepare_webhooks(
    app: str, sandbox: str, workdir: Path, customers: list[Customer], timings: Timings
) -> list[tuple[str, bytes]]:
    """Pending payments paid on the sandbox with its webhooks dropped (a fault), and the payment.captured body the
    sandbox would have sent for each: (payment id, body)."""
    auth = ("rzp_test_sandboxkey0001", "sandbox_key_secret")
    httpx.post(
        f"{sandbox}/sandbox/faults/",
        json={"gateway": "razorpay", "fault": "webhook_drop", "count": 1000},
        timeout=30,
    ).raise_for_status()
    paid: dict[str, str] = {}
    lock = threading.Lock()

    def one(customer: Customer) -> None:
        with httpx.Client(base_url=app, headers={"Authorization": f"Bearer {customer.token}"}, timeout=30) as http:
            payment = create_payment(http, customer, timings)
            if payment is None:
                raise SystemExit(f"create-from-cart failed: {timings.samples}")
            http.post(
                f"{payment['checkout']['sandbox_checkout_url']}pay", json={"outcome": "success"}
            ).raise_for_status()
            with lock:
                paid[payment["gateway_order_id"]] = payment["id"]

    in_parallel(customers, one)
    httpx.request("DELETE", f"{sandbox}/sandbox/faults/", timeout=30, auth=auth).raise_for_status()
    with sqlite3.connect(workdir / "sandbox.sqlite3") as db:
        rows = db.execute(
            "SELECT body FROM sandbox_webhookdelivery WHERE gateway = 'razorpay' AND event = 'payment.captured'"
        ).fetchall()
    bodies: list[tuple[str, bytes]] = []
    for (body,) in rows:
        for order_id, payment_id in paid.items():
            if f'"order_id":"{order_id}"' in body:
                bodies.append((payment_id, body.encode()))
    if len(bodies) != len(customers):
        raise SystemExit(f"expected {len(customers)} payment.captured bodies from the sandbox, found {len(bodies)}")
    return bodies


def send_webhooks(app: str, bodies: list[tuple[str, bytes]], timings: Timings, workers: int = CONNECTIONS) -> None:
    from sandbox.signing import razorpay_webhook_signature

    http = httpx.Client(base_url=app, timeout=REQUEST_TIMEOUT)

    def one(item: tuple[str, bytes]) -> None:
        _, body = item
        headers = {
            "Content-Type": "application/json",
            "X-Razorpay-Event-Id": f"evt_{uuid.uuid4().hex[:14]}",
            "X-Razorpay-Signature": razorpay_webhook_signature(webhook_secret=RAZORPAY_WEBHOOK_SECRET, body=body),
        }
        timings.call("answer", lambda: http.post("/api/payments/webhook/razorpay/", content=body, headers=headers))

    in_parallel(bodies, one, workers)
    http.close()


def wait_fulfilled(payment_model: Any, payment_ids: list[str], timeout: float = 120) -> None:
    """Until every payment is CAPTURED with its order, booking and subscription (polling, with a deadline)."""

    deadline = time.monotonic() + timeout
    while True:
        done = (
            payment_model.objects.filter(pk__in=payment_ids, status="CAPTURED", subscriptions__isnull=False)
            .distinct()
            .count()
        )
        if done == len(payment_ids):
            return
        if time.monotonic() > deadline:
            raise SystemExit(f"only {done}/{len(payment_ids)} payments captured and fulfilled in {timeout:.0f} s")
        time.sleep(0.05)


# ------------------------------------------------------------------------------------------------------ outputs
def print_row(m: Measure) -> None:
    p50 = f"{m.p50_ms:7.1f}" if m.p50_ms is not None else "      -"
    p99 = f"{m.p99_ms:7.1f}" if m.p99_ms is not None else "      -"
    print(
        f"  cycle {m.cycle}  {m.scenario:28} {m.side} {m.target:32} {m.rate:9.1f}/s  p50 {p50} ms  p99 {p99} ms"
        f"  errors {m.errors}  load {os.getloadavg()[0]:.1f}",
        flush=True,
    )


def write_outputs(results: list[Measure], out: Path) -> None:
    if not results:
        return
    out.mkdir(parents=True, exist_ok=True)
    keys = sorted({key for m in results for key in m.extra})
    with (out / "results.csv").open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(
            [
                "scenario",
                "side",
                "target",
                "cycle",
                "count",
                "seconds",
                "rate_per_s",
                "p50_ms",
                "p99_ms",
                "errors",
                *keys,
            ]
        )
        for m in results:
            writer.writerow(
                [
                    m.scenario,
                    m.side,
                    m.target,
                    m.cycle,
                    m.requests,
                    f"{m.seconds:.2f}",
                    f"{m.rate:.1f}",
                    "" if m.p50_ms is None else f"{m.p50_ms:.2f}",
                    "" if m.p99_ms is None else f"{m.p99_ms:.2f}",
                    m.errors,
                    *[m.extra.get(key, "") for key in keys],
                ]
            )

    print("\n| scenario | payfirst /s | floor /s | ratio (per cycle) | p50 ms | p99 ms | errors | queries |")
    print("|---|---|---|---|---|---|---|---|")
    summary: list[tuple[str, list[float]]] = []
    for scenario in dict.fromkeys(m.scenario for m in results):
        a = [m for m in results if m.scenario == scenario and m.side == "A"]
        b = [m for m in results if m.scenario == scenario and m.side == "B"]
        ratios = [x.rate / y.rate for x, y in zip(a, b, strict=True) if y.rate]
        summary.append((scenario, ratios))
        print(
            f"| {scenario} | {statistics.median(x.rate for x in a):.0f} | {statistics.median(y.rate for y in b):.0f} "
            f"| {', '.join(f'{r:.3f}' for r in ratios)} | {statistics.median(x.p50_ms or 0 for x in a):.1f} "
            f"| {max(x.p99_ms or 0 for x in a):.1f} | {sum(x.errors for x in a)} | {a[0].extra.get('queries')} |"
        )
    print(f"(written: {out / 'results.csv'}, {out / 'results.png'})")

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, (left, right) = plt.subplots(1, 2, figsize=(12, 4.5))
    for index, (_, ratios) in enumerate(summary):
        left.scatter([index] * len(ratios), ratios, color="tab:blue")
    labels = [name.replace("GET /api/", "GET ").replace("/{id}", " id").rstrip("/") for name, _ in summary]
    left.set_xticks(range(len(summary)), labels, fontsize=8)
    left.axhline(0.30, color="tab:green", linestyle="--", linewidth=1, label="read target 0.30")
    left.set_ylabel("payfirst / floor (each cycle)")
    left.set_title("Throughput ratio, 16 connections")
    left.grid(axis="y", alpha=0.3)
    left.legend(fontsize=8)
    names = [name for name, _ in summary]
    p99 = [max(m.p99_ms or 0 for m in results if m.scenario == name and m.side == "A") for name in names]
    right.bar(range(len(names)), p99, color="tab:orange")
    right.set_xticks(range(len(names)), labels, fontsize=8)
    right.axhline(25, color="tab:green", linestyle="--", linewidth=1, label="read target 25 ms")
    right.set_ylabel("p99 ms (worst cycle)")
    right.set_title("payfirst p99 latency")
    right.grid(axis="y", alpha=0.3)
    right.legend(fontsize=8)
    figure.tight_layout()
    figure.savefig(out / "results.png", dpi=110)


if __name__ == "__main__":
    sys.exit(main())
