"""Load driver: N customers at once pay through `make run` (web, worker and the sandbox server), on PostgreSQL.

    .venv/bin/python -m benchmarks.sandbox_load [--customers 32] [--port 8210] [--database postgres://.../payfirst_load]

It starts everything itself: it (re)creates the PostgreSQL database named by --database, starts `make run` on --port
(the sandbox on --port + 1, its SQLite database in a temporary folder), waits for both, and signs up 2 x N customers.
Then two rounds, each with N customers released at once:

  confirm   create-from-cart (Razorpay) -> pay on the sandbox's hosted page -> confirm-razorpay
  webhooks  create-from-cart -> pay on the hosted page -> nothing: the sandbox's webhooks alone must capture it

and checks every payment: CAPTURED in payfirst, exactly one captured payment on its Razorpay order in the sandbox,
one subscription for its customer. It prints the figures (status counts, 502s, time-outs, latencies) and finally
stops `make run` with Ctrl-C (SIGINT to its process group), reporting how long web, worker and sandbox took to exit.
Exit status 0 only when every payment was captured once with no 502 and no time-out.
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
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
from urllib.parse import urlsplit, urlunsplit

import httpx
import psycopg
from psycopg import sql

ROOT = Path(__file__).resolve().parents[1]
REQUEST_TIMEOUT = 30.0  # seconds: a request slower than this counts as a time-out
PASSWORD = "load-test-Password-7"


def recreate_database(url: str) -> None:
    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    admin = urlunsplit(parts._replace(path="/postgres"))
    with psycopg.connect(admin, autocommit=True) as connection:
        connection.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


def wait_until_up(url: str, deadline: float, process: subprocess.Popen[bytes]) -> None:
    while True:
        if process.poll() is not None:
            raise SystemExit(f"`make run` exited with {process.returncode} before {url} answered")
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            raise SystemExit(f"{url} did not answer in time")
        time.sleep(0.25)


@dataclass
class Outcome:
    steps: dict[str, list[float]] = field(default_factory=dict)  # step -> seconds
    statuses: Counter[str] = field(default_factory=Counter)  # "step status" -> count
    timeouts: Counter[str] = field(default_factory=Counter)
    errors: list[str] = field(default_factory=list)
    payments: list[dict[str, Any]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def record(self, step: str, seconds: float, status: str) -> None:
        with self.lock:
            self.steps.setdefault(step, []).append(seconds)
            self.statuses[f"{step} {status}"] += 1


def timed(outcome: Outcome, step: str, call: Any) -> httpx.Response | None:
    started = time.monotonic()
    try:
        response = call()
    except httpx.TimeoutException:
        with outcome.lock:
            outcome.timeouts[step] += 1
        outcome.record(step, time.monotonic() - started, "timeout")
        return None
    except httpx.TransportError as exc:
        outcome.record(step, time.monotonic() - started, type(exc).__name__)
        return None
    outcome.record(step, time.monotonic() - started, str(response.status_code))
    return response


def sign_up(app: str, index: int, run_id: str) -> str:
    email = f"load-{run_id}-{index}@example.com"
    with httpx.Client(base_url=app, timeout=REQUEST_TIMEOUT) as http:
        answer = http.post(
            "/api/auth/register/",
            json={
                "email": email,
                "password": PASSWORD,
                "full_name": f"Load Customer {index}",
                "phone": "+919876543210",
            },
        )
        if answer.status_code != 201:
            raise SystemExit(f"sign-up failed: {answer.status_code} {answer.text[:300]}")
        token = http.post("/api/auth/token/", json={"email": email, "password": PASSWORD}).json()
    return str(token["access"])


def customer(app: str, token: str, plan_code: str, *, confirm: bool, barrier: threading.Barrier, out: Outcome) -> None:
    headers = {"Authorization": f"Bearer {token}"}
    with (
        httpx.Client(base_url=app, headers=headers, timeout=REQUEST_TIMEOUT) as http,
        httpx.Client(timeout=REQUEST_TIMEOUT) as browser,
    ):
        added = http.post("/api/cart/add/", json={"plan_code": plan_code})
        if added.status_code != 201:
            out.errors.append(f"cart add {added.status_code}: {added.text[:200]}")
            return
        barrier.wait()
        created = timed(
            out,
            "create",
            lambda: http.post(
                "/api/payments/create-from-cart/",
                json={"gateway": "razorpay"},
                headers={"Idempotency-Key": str(uuid.uuid4())},
            ),
        )
        if created is None or created.status_code not in (200, 201):
            if created is not None:
                out.errors.append(f"create {created.status_code}: {created.text[:200]}")
            return
        payment = created.json()
        checkout = payment["checkout"]
        paid = timed(
            out, "pay", lambda: browser.post(f"{checkout['sandbox_checkout_url']}pay", json={"outcome": "success"})
        )
        if paid is None or paid.status_code != 200:
            if paid is not None:
                out.errors.append(f"pay {paid.status_code}: {paid.text[:200]}")
            return
        started = time.monotonic()
        if confirm:
            confirmed = timed(out, "confirm", lambda: http.post("/api/payments/confirm-razorpay/", json=paid.json()))
            if confirmed is None or confirmed.status_code != 200:
                if confirmed is not None:
                    out.errors.append(f"confirm {confirmed.status_code}: {confirmed.text[:200]}")
                return
        # Until payfirst says CAPTURED (at once after a confirm; after the webhooks otherwise).
        deadline = time.monotonic() + 120
        status = ""
        while time.monotonic() < deadline:
            answer = timed(out, "poll", lambda: http.get(f"/api/payments/{payment['id']}/"))
            status = answer.json()["status"] if answer is not None and answer.status_code == 200 else status
            if status == "CAPTURED":
                break
            time.sleep(0.2)
        out.record("until captured", time.monotonic() - started, status or "unknown")
        subscriptions = http.get("/api/subscriptions/").json()
        with out.lock:
            out.payments.append({**payment, "final_status": status, "subscriptions": subscriptions["count"]})


def run_round(app: str, tokens: list[str], plan_code: str, *, confirm: bool) -> tuple[Outcome, float]:
    out = Outcome()
    barrier = threading.Barrier(len(tokens))
    threads = [
        threading.Thread(
            target=customer, args=(app, token, plan_code), kwargs={"confirm": confirm, "barrier": barrier, "out": out}
        )
        for token in tokens
    ]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    return out, time.monotonic() - started


def captured_once_in_sandbox(sandbox: str, payments: list[dict[str, Any]], auth: tuple[str, str]) -> int:
    """How many of the payments' Razorpay orders hold exactly one captured payment (and no other)."""
    good = 0
    with httpx.Client(timeout=REQUEST_TIMEOUT, auth=auth) as http:
        for payment in payments:
            items = http.get(f"{sandbox}/sandbox/razorpay/v1/orders/{payment['gateway_order_id']}/payments").json()
            captured = [item for item in items["items"] if item["captured"]]
            good += len(captured) == 1 and len(items["items"]) == 1
    return good


def report(name: str, out: Outcome, wall: float, customers: int, once: int) -> bool:
    print(f"\n== {name}: {customers} customers at once, {wall:.1f} s wall ==")
    for step, seconds in out.steps.items():
        if step == "poll":
            continue
        ordered = sorted(seconds)
        p95 = ordered[max(0, int(len(ordered) * 0.95) - 1)]
        print(
            f"  {step:15} n={len(ordered):3}  p50 {statistics.median(ordered) * 1000:7.0f} ms  "
            f"p95 {p95 * 1000:7.0f} ms  max {ordered[-1] * 1000:7.0f} ms"
        )
    print(
        "  answers:", ", ".join(f"{key} x{count}" for key, count in sorted(out.statuses.items()) if "poll" not in key)
    )
    bad_gateway = sum(count for key, count in out.statuses.items() if key.endswith(" 502"))
    timeouts = sum(out.timeouts.values())
    captured = sum(1 for payment in out.payments if payment["final_status"] == "CAPTURED")
    one_subscription = sum(1 for payment in out.payments if payment["subscriptions"] == 1)
    print(f"  502s: {bad_gateway}   time-outs: {timeouts}   errors: {len(out.errors)}")
    print(f"  CAPTURED in payfirst: {captured}/{customers}   one subscription each: {one_subscription}/{customers}")
    print(f"  exactly one captured payment per Razorpay order in the sandbox: {once}/{customers}")
    for error in out.errors[:5]:
        print("  error:", error)
    return bad_gateway == 0 and timeouts == 0 and not out.errors and captured == once == one_subscription == customers


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--customers", type=int, default=32)
    parser.add_argument("--port", type=int, default=8210)
    parser.add_argument("--database", default="postgres://postgres@127.0.0.1:5432/payfirst_load")
    args = parser.parse_args()
    app, sandbox = f"http://127.0.0.1:{args.port}", f"http://127.0.0.1:{args.port + 1}"

    recreate_database(args.database)
    workdir = Path(tempfile.mkdtemp(prefix="payfirst-load-"))
    env = {
        **os.environ,
        "DATABASE_URL": args.database,
        "SANDBOX_DATABASE_URL": f"sqlite:///{workdir / 'sandbox.sqlite3'}",
        "THROTTLE_REGISTER": "100000/hour",
        "THROTTLE_TOKEN": "100000/hour",
        "LOG_LEVEL": "WARNING",
    }
    log = (workdir / "make-run.log").open("wb")
    make = subprocess.Popen(
        ["make", "--no-print-directory", "run", f"PORT={args.port}"],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # its own process group, which gets the Ctrl-C at the end
    )
    ok = False
    try:
        deadline = time.monotonic() + 180
        wait_until_up(f"{app}/healthz", deadline, make)
        wait_until_up(f"{sandbox}/healthz", deadline, make)
        print(f"make run is up: payfirst {app}, sandbox {sandbox} (log: {workdir / 'make-run.log'})")
        plans = httpx.get(f"{app}/api/catalog/plans/", timeout=REQUEST_TIMEOUT).json()["results"]
        plan_code = plans[0]["code"]
        run_id = uuid.uuid4().hex[:8]
        tokens = [sign_up(app, index, run_id) for index in range(2 * args.customers)]
        auth = (
            env.get("RAZORPAY_KEY_ID", "rzp_test_sandboxkey0001"),
            env.get("RAZORPAY_KEY_SECRET", "sandbox_key_secret"),
        )

        results = []
        for name, confirm, batch in (
            ("create, pay on the hosted page, confirm", True, tokens[: args.customers]),
            ("create, pay on the hosted page, webhooks only", False, tokens[args.customers :]),
        ):
            out, wall = run_round(app, batch, plan_code, confirm=confirm)
            once = captured_once_in_sandbox(sandbox, out.payments, auth)
            results.append(report(name, out, wall, len(batch), once))
        ok = all(results)
    finally:
        started = time.monotonic()
        os.killpg(make.pid, signal.SIGINT)  # Ctrl-C, as a developer stops `make run`
        try:
            make.wait(timeout=60)
            how = f"on signal {-make.returncode}" if make.returncode < 0 else f"with status {make.returncode}"
            print(f"\nCtrl-C: make run (web, worker, sandbox) stopped {how} in {time.monotonic() - started:.1f} s")
        except subprocess.TimeoutExpired:
            print("\nCtrl-C: make run did not stop within 60 s; killing it")
            os.killpg(make.pid, signal.SIGKILL)
            ok = False
        log.close()
        stray = subprocess.run(["pgrep", "-g", str(make.pid)], capture_output=True, text=True).stdout.split()
        print(f"processes left in its group: {len(stray)}")
        ok = ok and not stray
    print("\nRESULT:", "PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
