"""Chaos with real processes, on PostgreSQL: customers pay while web processes and workers are killed with SIGKILL
and PostgreSQL restarts; then reconciliation runs and the money, stock and webhooks are checked.

    .venv/bin/python -m benchmarks.chaos [--customers 12] [--seconds 150] [--kills 20] [--port 8340]
                                         [--database postgres://postgres@127.0.0.1:5432/payfirst_chaos]

It starts everything itself, on loopback only, each in its own process group:
  - the sandbox server (port + 1, SQLite in a temporary folder), which is never killed;
  - two web processes: gunicorn (1 worker, 4 threads) twice on the same port with SO_REUSEPORT, so the kernel spreads
    connections over the two and a dead one's share goes to the other, as behind a load balancer;
  - two workers (`manage.py run_worker`).
Customers (threads, each its own account) pay in a loop until --seconds have passed: cart (a plan, a product or a
service slot) -> create-from-cart (Razorpay) -> pay on the sandbox's hosted page -> confirm-razorpay, or, for about a
third, nothing after paying: the sandbox's webhooks alone must capture it. A failed request (connection refused or
reset, or a 5xx) is retried as a client would, create-from-cart with the same Idempotency-Key.
Meanwhile --kills times, at random moments, a web process or a worker is killed with SIGKILL (web and worker in
turn) and started again after a short pause, as a supervisor would; once, half way, PostgreSQL itself is restarted
(`pg_ctlcluster ... restart`).

Then the load stops, the webhooks still owed are left to arrive, `manage.py reconcile_payments` runs, and the checks:
  - every payment captured in the sandbox is captured in payfirst (or refunded), and vice versa;
  - every captured payment is fulfilled exactly once (one order item, booking or subscription per line) or refunded
    in full, and nothing else is fulfilled; the fulfilments' totals equal the payment's amount;
  - stock and places add up: initial = on hand + sold, and reserved / taken = what live payments hold (+ bookings);
  - no webhook is lost: every delivery the sandbox made for a captured payment ended processed (or a duplicate of a
    processed one) in payfirst's inbox, or the payment was captured through another door (confirm, reconcile).
It prints the figures and exits 0 only with no invariant violated. Every process it started is stopped at the end,
also on Ctrl-C.
"""

from __future__ import annotations

import argparse
import os
import random
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psycopg

from benchmarks.sandbox_load import PASSWORD, REQUEST_TIMEOUT, recreate_database, wait_until_up

ROOT = Path(__file__).resolve().parents[1]
PY = str(ROOT / ".venv" / "bin" / "python") if (ROOT / ".venv" / "bin" / "python").exists() else sys.executable
RETRY_FOR = 45.0  # seconds a customer keeps retrying one step before giving up on it
PG_RESTART = ["pg_ctlcluster", "--skip-systemctl-redirect"]
ADDRESS = {
    "full_name": "Chaos Customer",
    "address_line_1": "12 MG Road",
    "city": "Bengaluru",
    "state": "Karnataka",
    "postal_code": "560001",
}


# --- processes ------------------------------------------------------------------------------------------------------


class Cluster:
    """The processes under test, each in its own process group (so a kill reaches a gunicorn master and its worker)."""

    def __init__(self, *, port: int, env: dict[str, str], logs: Path) -> None:
        self.port, self.env, self.logs = port, env, logs
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self.lock = threading.Lock()
        self.starts: Counter[str] = Counter()
        self.closed = False  # once stopping, a restart from the chaos thread must not start anything new

    def command(self, name: str) -> list[str]:
        if name == "sandbox":
            return [PY, "-m", "sandbox", "serve", "--port", str(self.port + 1)]
        if name.startswith("web"):
            return [
                str(ROOT / ".venv" / "bin" / "gunicorn"),
                "config.wsgi",
                "-c",
                "config/gunicorn.py",
                "--bind",
                f"127.0.0.1:{self.port}",
                "--reuse-port",
                "--workers",
                "1",
                "--threads",
                "4",
            ]
        return [PY, "manage.py", "run_worker", "--no-reload", "--scheduler-interval", "2", "--interval", "0.2"]

    def start(self, name: str) -> None:
        with self.lock:
            if self.closed:
                return
            self.starts[name] += 1
            log = (self.logs / f"{name}.log").open("ab")
            self.procs[name] = subprocess.Popen(
                self.command(name), cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )
            log.close()

    def kill9(self, name: str) -> None:
        with self.lock:
            process = self.procs[name]
            try:
                os.killpg(process.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            process.wait()

    def stop_all(self) -> list[str]:
        """SIGTERM to every group, SIGKILL to what is left after 15 s; returns the names that needed SIGKILL."""
        with self.lock:
            self.closed = True
            procs = dict(self.procs)
        for process in procs.values():
            try:
                os.killpg(process.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
        deadline = time.monotonic() + 15
        forced = []
        for name, process in procs.items():
            try:
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                forced.append(name)
            try:
                os.killpg(process.pid, signal.SIGKILL)  # also any child left in the group
            except ProcessLookupError:
                pass
            process.wait()
        return forced


# --- customers ------------------------------------------------------------------------------------------------------


@dataclass
class Figures:
    lock: threading.Lock = field(default_factory=threading.Lock)
    requests: int = 0
    failed: Counter[str] = field(default_factory=Counter)  # "step: reason" -> count of failed attempts
    attempted: int = 0  # payments created (create-from-cart answered with a payment)
    refused: Counter[str] = field(default_factory=Counter)  # create-from-cart's 4xx (sold out, ...) by code
    gave_up: Counter[str] = field(default_factory=Counter)  # a step that never succeeded within RETRY_FOR
    flows: Counter[str] = field(default_factory=Counter)
    payments: list[str] = field(default_factory=list)  # payfirst payment ids
    kills: list[tuple[float, str]] = field(default_factory=list)
    pg_restarts: list[float] = field(default_factory=list)

    def add(self, counter: str, key: str, n: int = 1) -> None:
        with self.lock:
            getattr(self, counter)[key] += n


def call(
    http: httpx.Client, figures: Figures, step: str, method: str, url: str, **kwargs: Any
) -> httpx.Response | None:
    """One step, retried like a client would on a refused/reset connection or a 5xx, until RETRY_FOR has passed.
    Returns the first non-5xx answer, or None."""
    deadline = time.monotonic() + RETRY_FOR
    while True:
        with figures.lock:
            figures.requests += 1
        try:
            answer = http.request(method, url, **kwargs)
            if answer.status_code < 500:
                return answer
            figures.add("failed", f"{step}: {answer.status_code}")
        except httpx.TransportError as error:
            figures.add("failed", f"{step}: {type(error).__name__}")
        if time.monotonic() > deadline:
            figures.add("gave_up", step)
            return None
        time.sleep(0.3 + random.random() * 0.4)


def sign_up(app: str, figures: Figures, email: str) -> str:
    with httpx.Client(base_url=app, timeout=REQUEST_TIMEOUT) as http:
        body = {"email": email, "password": PASSWORD, "full_name": "Chaos Customer", "phone": "+919876543210"}
        answer = call(http, figures, "register", "POST", "/api/auth/register/", json=body)
        if answer is None or answer.status_code not in (201, 400):  # 400: registered by an attempt that was cut off
            raise SystemExit(f"sign-up failed: {answer and answer.status_code} {answer and answer.text[:300]}")
        token = call(http, figures, "token", "POST", "/api/auth/token/", json={"email": email, "password": PASSWORD})
        if token is None or token.status_code != 200:
            raise SystemExit(f"sign-in failed: {token and token.status_code}")
        return str(token.json()["access"])


def customer(app: str, token: str, catalog: dict[str, list[Any]], until: float, figures: Figures) -> None:
    headers = {"Authorization": f"Bearer {token}"}
    rng = random.Random()
    with (
        httpx.Client(base_url=app, headers=headers, timeout=REQUEST_TIMEOUT) as http,
        httpx.Client(timeout=REQUEST_TIMEOUT) as browser,
    ):
        while time.monotonic() < until:
            # An empty cart first (what an earlier, unpaid attempt left in it).
            cart = call(http, figures, "cart", "GET", "/api/cart/")
            for item in cart.json().get("items", []) if cart is not None and cart.status_code == 200 else []:
                call(http, figures, "cart", "DELETE", f"/api/cart/items/{item['id']}/")
            kind = rng.choice(["plan", "product", "service"])
            if kind == "plan":
                line: dict[str, Any] = {"plan_code": rng.choice(catalog["plans"])}
            elif kind == "product":
                line = {"variant_id": rng.choice(catalog["variants"]), "quantity": rng.randint(1, 2)}
            else:
                package, day, at = rng.choice(catalog["slots"])
                line = {"package_id": package, "selected_date": day, "selected_time": at}
            added = call(http, figures, "cart add", "POST", "/api/cart/add/", json=line)
            if added is None or added.status_code != 201:
                code = added.json().get("error", {}).get("code", added.status_code) if added is not None else "none"
                figures.add("refused", f"cart add {code}")
                time.sleep(0.5)
                continue
            key = str(uuid.uuid4())
            created = call(
                http,
                figures,
                "create",
                "POST",
                "/api/payments/create-from-cart/",
                json={"gateway": "razorpay", "shipping_address": ADDRESS},
                headers={"Idempotency-Key": key},
            )
            if created is None or created.status_code not in (200, 201):
                if created is not None:
                    code = created.json().get("error", {}).get("code", created.status_code)
                    figures.add("refused", f"create {code}")
                continue
            payment = created.json()
            with figures.lock:
                figures.attempted += 1
                figures.payments.append(str(payment["id"]))
            paid = call(
                browser,
                figures,
                "pay",
                "POST",
                f"{payment['checkout']['sandbox_checkout_url']}pay",
                json={"outcome": "success"},
            )
            if paid is None or paid.status_code != 200:
                continue
            by_webhook = rng.random() < 0.35
            figures.add("flows", "webhook only" if by_webhook else "confirm")
            if not by_webhook:
                call(http, figures, "confirm", "POST", "/api/payments/confirm-razorpay/", json=paid.json())
            deadline = time.monotonic() + 20  # as a page would poll; the checks at the end do not depend on it
            while time.monotonic() < deadline:
                answer = call(http, figures, "poll", "GET", f"/api/payments/{payment['id']}/")
                if answer is not None and answer.status_code == 200 and answer.json()["status"] != "PENDING":
                    break
                time.sleep(0.5)


# --- chaos ----------------------------------------------------------------------------------------------------------


def restart_postgres() -> None:
    version = sorted(os.listdir("/etc/postgresql"))[-1]
    subprocess.run([*PG_RESTART, version, "main", "restart"], check=True, capture_output=True, timeout=120)


def chaos(
    cluster: Cluster, figures: Figures, *, started: float, seconds: float, kills: int, pg: bool, stop: threading.Event
) -> None:
    """`kills` SIGKILLs spread over the load (web and worker in turn, a random one of the two), each process started
    again after a pause of 0.2-1.5 s; PostgreSQL restarted once, half way."""
    rng = random.Random()
    gap = (seconds - 15) / kills
    moments = [started + 8 + gap * index + rng.uniform(0, gap * 0.6) for index in range(kills)]
    restart_at = started + seconds / 2 if pg else 0
    for index, moment in enumerate(moments):
        while time.monotonic() < moment:
            if stop.wait(0.1):
                return
            if restart_at and time.monotonic() >= restart_at:
                restart_at = 0
                figures.pg_restarts.append(time.monotonic() - started)
                restart_postgres()
        name = rng.choice(["web1", "web2"] if index % 2 == 0 else ["worker1", "worker2"])
        cluster.kill9(name)
        figures.kills.append((time.monotonic() - started, name))
        time.sleep(rng.uniform(0.2, 1.5))
        cluster.start(name)
    if restart_at:
        figures.pg_restarts.append(time.monotonic() - started)
        restart_postgres()


# --- checks ---------------------------------------------------------------------------------------------------------


def settle(database: str, sandbox_db: Path, deadline: float) -> None:
    """Until the sandbox has no webhook left to send and no refund left to settle, and payfirst has no refund pending
    and nothing ready or running in its queue (a task that a killed worker left RUNNING counts for 30 s only:
    nothing will finish it)."""
    while time.monotonic() < deadline:
        with sqlite3.connect(sandbox_db) as box:
            owed = box.execute("SELECT count(*) FROM sandbox_webhookdelivery WHERE state = 'pending'").fetchone()[0]
            owed += box.execute("SELECT count(*) FROM sandbox_job WHERE done_at IS NULL").fetchone()[0]
        with psycopg.connect(database) as db:
            queued = db.execute(
                "SELECT count(*) FROM django_tasks_database_dbtaskresult WHERE queue_name <> 'periodic' AND"
                " (status = 'READY' OR (status = 'RUNNING' AND started_at > now() - interval '30 seconds'))"
            ).fetchone()[0]
            queued += db.execute("SELECT count(*) FROM payments_refund WHERE status = 'PENDING'").fetchone()[0]
        if not owed and not queued:
            return
        time.sleep(1)


def check(database: str, sandbox_db: Path, initial: dict[str, dict[int, int]]) -> tuple[dict[str, int], list[str]]:
    bad: list[str] = []
    figures: Counter[str] = Counter()
    with sqlite3.connect(sandbox_db) as box:
        order_of = dict(box.execute("SELECT id, order_id FROM sandbox_razorpaypayment"))
        sandbox_captured = {
            order: count
            for order, count in box.execute(
                "SELECT order_id, count(*) FROM sandbox_razorpaypayment WHERE is_captured GROUP BY order_id"
            )
        }
        deliveries = box.execute(
            "SELECT event_id, subject, state, body FROM sandbox_webhookdelivery WHERE gateway = 'razorpay'"
        ).fetchall()
    with psycopg.connect(database) as db:
        payments = db.execute(
            "SELECT id, status, amount, refunded_amount, gateway_order_id, reservation FROM payments_payment"
        ).fetchall()
        lines = Counter(dict(db.execute("SELECT payment_id, count(*) FROM payments_paymentline GROUP BY payment_id")))
        fulfilled: Counter[int] = Counter()
        totals: Counter[int] = Counter()
        for table in ("fulfilment_orderitem", "fulfilment_booking", "fulfilment_subscription"):
            if table == "fulfilment_orderitem":
                rows = db.execute(
                    "SELECT l.payment_id, count(*), sum(i.total) FROM fulfilment_orderitem i"
                    " JOIN payments_paymentline l ON l.id = i.payment_line_id GROUP BY l.payment_id"
                )
            else:
                rows = db.execute(f"SELECT payment_id, count(*), sum(total) FROM {table} GROUP BY payment_id")  # noqa: S608
            for payment_id, count, total in rows:
                fulfilled[payment_id] += count
                totals[payment_id] += int(total)
        orders = dict(db.execute("SELECT payment_id, sum(total) FROM fulfilment_order GROUP BY payment_id"))
        refunds = Counter(
            dict(
                db.execute("SELECT payment_id, sum(amount) FROM payments_refund WHERE status = 'PROCESSED' GROUP BY 1")
            )
        )
        inbox = db.execute(
            "SELECT event_id, outcome, is_claimed FROM payments_webhookevent WHERE gateway = 'razorpay'"
        ).fetchall()
        capture_sources = dict(
            db.execute(
                "SELECT payment_id, min(source) FROM payments_paymentevent WHERE to_status = 'CAPTURED' GROUP BY 1"
            )
        )
        variants = dict(db.execute("SELECT id, stock_on_hand FROM catalog_variant"))
        reserved = dict(db.execute("SELECT id, reserved FROM catalog_variant"))
        sold = Counter(
            dict(
                db.execute(
                    "SELECT i.variant_id, sum(i.quantity) FROM fulfilment_orderitem i"
                    " JOIN fulfilment_order o ON o.id = i.order_id WHERE o.status <> 'CANCELLED' GROUP BY 1"
                )
            )
        )
        held = Counter(
            dict(
                db.execute(
                    "SELECT l.variant_id, sum(l.quantity) FROM payments_paymentline l JOIN payments_payment p"
                    " ON p.id = l.payment_id WHERE p.reservation = 'HELD' AND l.variant_id IS NOT NULL GROUP BY 1"
                )
            )
        )
        slots = dict(db.execute("SELECT id, taken FROM catalog_slot"))
        booked = Counter(
            dict(db.execute("SELECT slot_id, count(*) FROM fulfilment_booking WHERE status <> 'CANCELLED' GROUP BY 1"))
        )
        slot_held = Counter(
            dict(
                db.execute(
                    "SELECT l.slot_id, count(*) FROM payments_paymentline l JOIN payments_payment p"
                    " ON p.id = l.payment_id WHERE p.reservation = 'HELD' AND l.slot_id IS NOT NULL GROUP BY 1"
                )
            )
        )
        live_with_held = db.execute(
            "SELECT count(*) FROM payments_payment WHERE reservation = 'HELD' AND status <> 'PENDING'"
        ).fetchone()[0]

    by_order = {order: (pk, status) for pk, status, _, _, order, _ in payments if order}
    captured_states = {"CAPTURED", "PARTIALLY_REFUNDED", "REFUNDED"}
    for pk, status, amount, refunded_amount, order, _reservation in payments:
        figures["payments"] += 1
        figures[f"status {status}"] += 1
        captured = status in captured_states
        if sandbox_captured.get(order, 0) > 1:
            bad.append(f"payment {pk}: {sandbox_captured[order]} captured payments on order {order} in the sandbox")
        if order in sandbox_captured and not captured:
            bad.append(f"payment {pk}: captured in the sandbox, {status} in payfirst (money taken, nothing given)")
        if captured and order not in sandbox_captured:
            bad.append(f"payment {pk}: {status} in payfirst, not captured in the sandbox")
        fully_refunded = refunded_amount == amount and refunds[pk] == amount
        if captured:
            figures["captured"] += 1
            if fulfilled[pk] == lines[pk]:
                figures["fulfilled"] += 1
                if totals[pk] != amount:
                    bad.append(f"payment {pk}: fulfilments total {totals[pk]} paise, the payment {amount}")
                if orders.get(pk, 0) > amount:
                    bad.append(f"payment {pk}: its order's total {orders[pk]} is over the amount {amount}")
            elif fulfilled[pk] == 0 and fully_refunded:
                figures["refunded"] += 1
            else:
                bad.append(f"payment {pk}: {status} with {fulfilled[pk]} fulfilments for {lines[pk]} lines")
            if fulfilled[pk] and refunded_amount:
                figures["fulfilled and later refunded"] += 1
        elif fulfilled[pk]:
            bad.append(f"payment {pk}: {status} but {fulfilled[pk]} fulfilments")
    for order in sandbox_captured:
        if order not in by_order:
            bad.append(f"sandbox order {order}: captured, no payfirst payment has it")
    if live_with_held:
        bad.append(f"{live_with_held} payments no longer pending still hold stock or places")

    for variant, on_hand in variants.items():
        if initial["variants"][variant] != on_hand + sold[variant]:
            bad.append(
                f"variant {variant}: initial {initial['variants'][variant]} != on hand {on_hand} + sold {sold[variant]}"
            )
        if reserved[variant] != held[variant]:
            bad.append(f"variant {variant}: reserved {reserved[variant]}, live payments hold {held[variant]}")
        figures["units sold"] += sold[variant]
    for slot, taken in slots.items():
        if taken != initial["slots"][slot] + booked[slot] + slot_held[slot]:
            bad.append(
                f"slot {slot}: taken {taken} != before {initial['slots'][slot]} + booked {booked[slot]}"
                f" + held {slot_held[slot]}"
            )
        figures["places booked"] += booked[slot]

    processed = {event for event, outcome, claimed in inbox if outcome == "processed"}
    received = {event for event, _, _ in inbox}
    for event_id, subject, state, _body in deliveries:
        figures[f"sandbox deliveries {state}"] += 1
        pk_status = by_order.get(order_of.get(subject, subject))
        if pk_status is None:
            continue  # a delivery about a payment or refund id; the order-level events carry the order id
        if event_id in processed:
            continue
        pk, status = pk_status
        if status in captured_states and capture_sources.get(pk) not in (None, "webhook"):
            figures["deliveries made redundant by another door"] += 1
            continue
        if state == "delivered" or event_id in received:
            bad.append(f"webhook {event_id} for {subject} ({state}) never ended processed in payfirst's inbox")
    figures["inbox processed"] = sum(1 for _, outcome, _ in inbox if outcome == "processed")
    figures["inbox duplicate"] = sum(1 for _, outcome, _ in inbox if outcome == "duplicate")
    return dict(figures), bad


def snapshot(database: str) -> dict[str, dict[int, int]]:
    with psycopg.connect(database) as db:
        return {
            "variants": dict(db.execute("SELECT id, stock_on_hand FROM catalog_variant")),
            "slots": dict(db.execute("SELECT id, taken FROM catalog_slot")),
        }


def catalog_choices(database: str) -> dict[str, list[Any]]:
    """A few plans, variants and service slots to buy; one variant and one slot made scarce, so some checkouts find
    them sold out while others hold them."""
    with psycopg.connect(database, autocommit=True) as db:
        plans = [code for (code,) in db.execute("SELECT code FROM catalog_plan WHERE is_active LIMIT 3")]
        variants = [pk for (pk,) in db.execute("SELECT id FROM catalog_variant WHERE is_active ORDER BY id LIMIT 4")]
        db.execute("UPDATE catalog_variant SET stock_on_hand = 6 WHERE id = %s", [variants[0]])
        slots = db.execute(
            "SELECT * FROM (SELECT DISTINCT ON (s.id) p.id, s.date, s.time, s.id FROM catalog_slot s"
            " JOIN catalog_servicepackage p ON p.service_id = s.service_id"
            " WHERE s.is_active AND p.is_active AND s.date > current_date ORDER BY s.id, p.id) AS one_per_slot"
            " ORDER BY date, time LIMIT 4"
        ).fetchall()
        db.execute("UPDATE catalog_slot SET capacity = taken + 3 WHERE id = %s", [slots[0][3]])
    return {
        "plans": plans,
        "variants": variants,
        "slots": [(package, day.isoformat(), at.strftime("%H:%M")) for package, day, at, _ in slots],
    }


# --- main -----------------------------------------------------------------------------------------------------------


def manage(env: dict[str, str], *args: str) -> str:
    done = subprocess.run([PY, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    if done.returncode:
        raise SystemExit(f"manage.py {' '.join(args)} failed:\n{done.stdout[-2000:]}\n{done.stderr[-3000:]}")
    return done.stdout


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--customers", type=int, default=12)
    parser.add_argument("--seconds", type=float, default=150, help="how long customers keep paying")
    parser.add_argument("--kills", type=int, default=20)
    parser.add_argument("--port", type=int, default=8340)
    parser.add_argument("--database", default="postgres://postgres@127.0.0.1:5432/payfirst_chaos")
    parser.add_argument("--no-pg-restart", action="store_true", help="skip the PostgreSQL restart")
    args = parser.parse_args()
    began = time.monotonic()
    app = f"http://127.0.0.1:{args.port}"
    sandbox = f"http://127.0.0.1:{args.port + 1}"

    # SIGTERM (and SIGHUP) end the run like Ctrl-C: through the finally below that stops every process.
    def interrupt(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGINT, signal.default_int_handler)  # also when started with SIGINT ignored (`cmd &`)
    signal.signal(signal.SIGTERM, interrupt)
    signal.signal(signal.SIGHUP, interrupt)

    recreate_database(args.database)
    workdir = Path(tempfile.mkdtemp(prefix="payfirst-chaos-"))
    sandbox_db = workdir / "sandbox.sqlite3"
    rate = "1000000/hour"
    env = {
        **os.environ,
        "PAYFIRST_DEMO": "1",
        "DATABASE_URL": args.database,
        "SANDBOX_DATABASE_URL": f"sqlite:///{sandbox_db}",
        "PORT": str(args.port),
        "SANDBOX_PORT": str(args.port + 1),
        "PAYFIRST_PUBLIC_BASE_URL": app,
        "LOG_LEVEL": "WARNING",
        "PAYMENTS_MAX_PENDING_PER_CUSTOMER": "0",
        **{
            f"THROTTLE_{scope}": rate
            for scope in (
                "REGISTER",
                "TOKEN",
                "SIGN_IN_ACCOUNT",
                "CHECK_EMAIL",
                "PAYMENTS_CREATE",
                "PAYMENTS_CONFIRM",
                "PAYMENTS_CANCEL",
                "REFUNDS",
            )
        },
    }
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    manage(env, "migrate", "--noinput")
    manage(env, "createcachetable")
    manage(env, "seed_demo")
    catalog = catalog_choices(args.database)
    initial = snapshot(args.database)

    cluster = Cluster(port=args.port, env=env, logs=workdir)
    figures = Figures()
    stop = threading.Event()
    ok = False
    try:
        for name in ("sandbox", "web1", "web2", "worker1", "worker2"):
            cluster.start(name)
        deadline = time.monotonic() + 120
        wait_until_up(f"{app}/healthz", deadline, cluster.procs["web1"])
        wait_until_up(f"{sandbox}/healthz", deadline, cluster.procs["sandbox"])
        print(f"up: payfirst {app} (2 gunicorn, 2 workers), sandbox {sandbox}; logs in {workdir}", flush=True)
        run_id = uuid.uuid4().hex[:8]
        tokens = [sign_up(app, figures, f"chaos-{run_id}-{i}@example.com") for i in range(args.customers)]

        started = time.monotonic()
        until = started + args.seconds
        threads = [
            threading.Thread(target=customer, args=(app, token, catalog, until, figures), daemon=True)
            for token in tokens
        ]
        for thread in threads:
            thread.start()
        killer = threading.Thread(
            target=chaos,
            args=(cluster, figures),
            kwargs={
                "started": started,
                "seconds": args.seconds,
                "kills": args.kills,
                "pg": not args.no_pg_restart,
                "stop": stop,
            },
            daemon=True,
        )
        killer.start()
        killer.join()
        for thread in threads:
            thread.join(timeout=max(1.0, until + 120 - time.monotonic()))
        load_wall = time.monotonic() - started
        print(f"load done in {load_wall:.0f} s; letting the webhooks still owed arrive", flush=True)
        settle(args.database, sandbox_db, time.monotonic() + 60)
        reconciled = manage(env, "reconcile_payments").strip().splitlines()
        settle(args.database, sandbox_db, time.monotonic() + 30)
        found, violations = check(args.database, sandbox_db, initial)

        failed = sum(figures.failed.values())
        print("\n== chaos: figures ==")
        print(f"  customers {args.customers}, load {load_wall:.0f} s, whole run {time.monotonic() - began:.0f} s")
        print(f"  payments attempted         {figures.attempted}  ({dict(figures.flows)})")
        print(f"  checkouts refused (4xx)    {sum(figures.refused.values())}  {dict(figures.refused)}")
        print(f"  captured                   {found.get('captured', 0)}")
        print(f"  fulfilled                  {found.get('fulfilled', 0)}")
        print(f"  refunded                   {found.get('refunded', 0)}")
        statuses = {k[7:]: v for k, v in sorted(found.items()) if k.startswith("status ")}
        print(f"  payment statuses           {statuses}")
        print(f"  units sold, places booked  {found.get('units sold', 0)}, {found.get('places booked', 0)}")
        kinds = Counter(name.rstrip("12") for _, name in figures.kills)
        print(f"  processes killed (-9)      {len(figures.kills)}  {dict(kinds)}")
        print(f"  PostgreSQL restarts        {', '.join(f'at {t:.0f} s' for t in figures.pg_restarts) or 0}")
        print(f"  requests                   {figures.requests}")
        print(f"  requests failed            {failed}  {dict(figures.failed.most_common(8))}")
        print(f"  steps given up             {sum(figures.gave_up.values())}  {dict(figures.gave_up)}")
        sandbox_states = {k[19:]: v for k, v in found.items() if k.startswith("sandbox deliveries ")}
        print(f"  sandbox webhook deliveries {sandbox_states}")
        print(
            f"  payfirst inbox             processed {found.get('inbox processed', 0)},"
            f" duplicate {found.get('inbox duplicate', 0)},"
            f" made redundant by another door {found.get('deliveries made redundant by another door', 0)}"
        )
        print(f"  reconcile_payments         {' / '.join(reconciled[-3:])}")
        print(f"  invariant violations       {len(violations)}")
        for violation in violations[:20]:
            print("    -", violation)
        ok = not violations and len(figures.kills) == args.kills
    except KeyboardInterrupt:
        print("\ninterrupted", flush=True)
    finally:
        stop.set()
        forced = cluster.stop_all()
        print(f"stopped every process started ({sum(cluster.starts.values())} starts); SIGKILL needed for {forced}")
    print("\nRESULT:", "PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
