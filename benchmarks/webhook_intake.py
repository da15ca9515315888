"""Benchmark of webhook intake on PostgreSQL: signed Razorpay deliveries sent by 16 concurrent clients to a real
gunicorn server, with the gateway's status API armed to time out (sandbox fault api_timeout). Intake verifies,
stores, deduplicates and queues without calling the gateway, so the fault must not show in the figures.

    make bench-webhooks
    # or: DATABASE_URL=postgres://postgres@127.0.0.1:5432/payfirst_bench_webhooks \
    #     .venv/bin/python -m benchmarks.webhook_intake --deliveries 2000 --concurrency 16

It creates (and drops first) its own database, starts gunicorn on --port, prints the latency figures (client side,
whole HTTP round trip) and what the inbox holds afterwards, and stops the server. It asserts nothing.
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import json
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
WEBHOOK_SECRET = "sandbox_webhook_secret"  # the sandbox's default RAZORPAY_WEBHOOK_SECRET


def _recreate_database(url: str) -> str:
    """Drop and create the database DATABASE_URL names; returns its name."""
    import psycopg

    match = re.match(r"^(postgres(?:ql)?://[^/]+)/([A-Za-z0-9_]+)$", url)
    if match is None:
        sys.exit(f"DATABASE_URL must be postgres://user@host:port/dbname, got {url!r}")
    server, name = match.groups()
    with psycopg.connect(f"{server}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    return name


def _server_env(*, database_url: str, port: int, workdir: str) -> dict[str, str]:
    return {
        **os.environ,
        "PAYFIRST_DEMO": "1",
        "PAYFIRST_GATEWAYS": "sandbox",
        "DATABASE_URL": database_url,
        "SANDBOX_DATABASE_URL": f"sqlite:///{workdir}/sandbox.sqlite3",
        "PORT": str(port),
        "SANDBOX_PORT": str(port + 1),
        "PAYFIRST_PUBLIC_BASE_URL": f"http://127.0.0.1:{port}",
        "RAZORPAY_WEBHOOK_SECRET": WEBHOOK_SECRET,
        "LOG_LEVEL": "INFO",  # the access log's duration_ms is the server-side figure
        "THROTTLE_WEBHOOKS": "1000000/minute",  # one client address sends everything here
        "DJANGO_SETTINGS_MODULE": "config.settings",
        # WEB_CONCURRENCY and GUNICORN_THREADS pass through when set; otherwise config/gunicorn.py's defaults, as
        # `make run` starts it.
    }


def _delivery(number: int) -> tuple[dict[str, str], bytes]:
    entity = {
        "id": f"pay_bench{number:08d}",
        "entity": "payment",
        "amount": 49900,
        "currency": "INR",
        "status": "captured",
        "captured": True,
        "order_id": f"order_bench{number:08d}",
        "method": "upi",
    }
    envelope = {
        "entity": "event",
        "account_id": "acc_bench",
        "event": "payment.captured",
        "contains": ["payment"],
        "payload": {"payment": {"entity": entity}},
        "created_at": 1_764_000_000 + number,
    }
    body = json.dumps(envelope, separators=(",", ":")).encode()
    signature = hmac.new(WEBHOOK_SECRET.encode(), body, hashlib.sha256).hexdigest()
    headers = {
        "Content-Type": "application/json",
        "X-Razorpay-Signature": signature,
        "X-Razorpay-Event-Id": f"evt_bench{number:08d}",
    }
    return headers, body


def _wait_until_up(base_url: str, server: subprocess.Popen, deadline_s: float = 60) -> None:
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        if server.poll() is not None:
            sys.exit(f"the server for {base_url} exited during start-up")
        try:
            if httpx.get(f"{base_url}/healthz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)  # polling a condition with a deadline
    sys.exit(f"{base_url} did not answer /healthz in time")


def _server_durations(log_path: Path, *, skip: int) -> list[float]:
    """duration_ms of every webhook request in the server's access log, less the first `skip` (the warm-up)."""
    durations = []
    for line in log_path.read_text(errors="replace").splitlines():
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if entry.get("logger") == "payfirst.access" and entry.get("route") == "api/payments/webhook/razorpay/":
            durations.append(float(entry["duration_ms"]))
    return durations[skip:]


def _percentile(sorted_ms: list[float], fraction: float) -> float:
    index = min(len(sorted_ms) - 1, max(0, round(fraction * len(sorted_ms)) - 1))
    return sorted_ms[index]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--deliveries", type=int, default=2000, help="signed deliveries to send (default 2000)")
    parser.add_argument("--concurrency", type=int, default=16, help="concurrent senders (default 16)")
    parser.add_argument("--duplicates", type=float, default=0.1, help="share sent twice (default 0.1)")
    parser.add_argument("--port", type=int, default=8310)
    parser.add_argument(
        "--no-floor",
        dest="floor",
        action="store_false",
        help="bursts mode: do not interleave a burst of GET /healthz (the floor: gunicorn, Django and this client, "
        "no database) before each burst of deliveries",
    )
    parser.add_argument(
        "--mode",
        choices=["bursts", "steady"],
        default="bursts",
        help="bursts: `concurrency` deliveries at once, then the next burst (default); steady: a closed loop of "
        "`concurrency` senders, which measures the server saturated",
    )
    args = parser.parse_args()

    database_url = os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/payfirst_bench_webhooks")
    if not database_url.startswith("postgres"):
        sys.exit("This benchmark measures PostgreSQL: DATABASE_URL must be postgres://...")
    _recreate_database(database_url)
    workdir = tempfile.mkdtemp(prefix="webhook-bench-")
    env = _server_env(database_url=database_url, port=args.port, workdir=workdir)
    python = sys.executable
    subprocess.run([python, "manage.py", "migrate", "--noinput", "-v", "0"], cwd=ROOT, env=env, check=True)
    subprocess.run([python, "manage.py", "createcachetable"], cwd=ROOT, env=env, check=True)

    base_url = f"http://127.0.0.1:{args.port}"
    sandbox_url = f"http://127.0.0.1:{args.port + 1}"
    log = tempfile.NamedTemporaryFile(prefix="webhook-bench-", suffix=".log", delete=False)  # noqa: SIM115
    gunicorn = str(Path(python).with_name("gunicorn"))
    prometheus_dir = tempfile.mkdtemp(prefix="webhook-bench-prom-")
    server = subprocess.Popen(
        [gunicorn, "config.wsgi", "-c", "config/gunicorn.py", "--bind", f"127.0.0.1:{args.port}"],
        cwd=ROOT,
        env={**env, "PROMETHEUS_MULTIPROC_DIR": prometheus_dir},
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    # The gateway sandbox is its own server (as `make run` starts it): its status API is armed to time out.
    sandbox_log = open(os.path.join(workdir, "sandbox.log"), "wb")  # noqa: SIM115 - closed with the process
    sandbox = subprocess.Popen(
        [python, "-m", "sandbox", "serve", "--port", str(args.port + 1)],
        cwd=ROOT,
        env={
            key: value
            for key, value in env.items()
            if key not in {"PROMETHEUS_MULTIPROC_DIR", "DJANGO_SETTINGS_MODULE"}
        },
        stdout=sandbox_log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        _wait_until_up(base_url, server)
        _wait_until_up(sandbox_url, sandbox)
        armed = httpx.post(
            f"{sandbox_url}/sandbox/faults/", json={"gateway": "razorpay", "fault": "api_timeout", "count": 1000}
        )
        armed.raise_for_status()

        numbers = list(range(args.deliveries))
        repeats = numbers[: int(args.deliveries * args.duplicates)]
        work = [_delivery(n) for n in numbers + repeats]
        url = f"{base_url}/api/payments/webhook/razorpay/"
        with httpx.Client(timeout=10) as warm:
            for headers, body in (_delivery(10_000_000 + n) for n in range(50)):
                warm.post(url, content=body, headers=headers)

        def ping(client: httpx.Client) -> float:
            started = time.perf_counter()
            client.get(f"{base_url}/healthz").raise_for_status()
            return (time.perf_counter() - started) * 1000

        def send(item: tuple[dict[str, str], bytes], client: httpx.Client) -> tuple[float, int, str]:
            headers, body = item
            started = time.perf_counter()
            response = client.post(url, content=body, headers=headers)
            elapsed_ms = (time.perf_counter() - started) * 1000
            status = response.json().get("status", "") if response.status_code == 200 else ""
            return elapsed_ms, response.status_code, status

        clients = [httpx.Client(timeout=10) for _ in range(args.concurrency)]
        results = []
        floor: list[float] = []
        wall = 0.0
        with ThreadPoolExecutor(max_workers=args.concurrency) as pool:
            if args.mode == "steady":
                # Closed loop: each sender posts its next delivery as soon as the previous one is answered.
                started = time.perf_counter()
                results = list(
                    pool.map(lambda pair: send(pair[1], clients[pair[0] % args.concurrency]), enumerate(work))
                )
                wall = time.perf_counter() - started
            else:
                # Bursts: `concurrency` deliveries arrive at the same moment (as after a gateway's retry wave), the
                # next burst when all are answered. Before each, the same clients send a burst of GET /healthz: the
                # floor, measured interleaved on the same moving machine.
                for first in range(0, len(work), args.concurrency):
                    burst = work[first : first + args.concurrency]
                    if args.floor:
                        floor += list(pool.map(ping, clients[: len(burst)]))
                    started = time.perf_counter()
                    results += list(pool.map(lambda pair: send(pair[1], clients[pair[0]]), enumerate(burst)))
                    wall += time.perf_counter() - started
        for client in clients:
            client.close()

        faults = httpx.get(f"{sandbox_url}/sandbox/faults/").json()
    finally:
        for process in (server, sandbox):
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
                process.wait(timeout=30)
        sandbox_log.close()

    server_ms = sorted(_server_durations(Path(log.name), skip=50))
    latencies = sorted(ms for ms, _, _ in results)
    codes: dict[int, int] = {}
    answers: dict[str, int] = {}
    for _, code, status in results:
        codes[code] = codes.get(code, 0) + 1
        if status:
            answers[status] = answers.get(status, 0) + 1
    print(f"mode              {args.mode}")
    print(
        f"webhook intake on PostgreSQL ({database_url.rsplit('/', 1)[-1]}), gunicorn "
        f"{env.get('WEB_CONCURRENCY', 'config/gunicorn.py default')} processes x "
        f"{env.get('GUNICORN_THREADS', 'config/gunicorn.py default')} threads, {args.concurrency} concurrent senders"
    )
    print("gateway status API armed to time out (sandbox api_timeout):", json.dumps(faults))
    print(f"deliveries        {len(results)} ({args.deliveries} distinct, {len(repeats)} sent twice)")
    print(f"wall time         {wall:.2f} s  ({len(results) / wall:.0f} deliveries/s)")
    print(f"HTTP statuses     {dict(sorted(codes.items()))}")
    print(f"answers           {dict(sorted(answers.items()))}")
    print(
        "latency ms        "
        f"p50 {statistics.median(latencies):.1f}  p90 {_percentile(latencies, 0.90):.1f}  "
        f"p99 {_percentile(latencies, 0.99):.1f}  max {latencies[-1]:.1f}  mean {statistics.fmean(latencies):.1f}"
    )
    if server_ms:
        print(
            "server-side ms    "
            f"p50 {statistics.median(server_ms):.1f}  p90 {_percentile(server_ms, 0.90):.1f}  "
            f"p99 {_percentile(server_ms, 0.99):.1f}  max {server_ms[-1]:.1f}  ({len(server_ms)} requests, from the "
            "access log: request in to response out, inside the web process)"
        )
    if floor:
        floor.sort()
        print(
            "floor ms          "
            f"p50 {statistics.median(floor):.1f}  p90 {_percentile(floor, 0.90):.1f}  "
            f"p99 {_percentile(floor, 0.99):.1f}  max {floor[-1]:.1f}  "
            f"(GET /healthz in bursts of {args.concurrency}, interleaved: no database)"
        )
        print(
            "intake / floor    "
            f"p50 {statistics.median(latencies) / statistics.median(floor):.2f}x  "
            f"p99 {_percentile(latencies, 0.99) / _percentile(floor, 0.99):.2f}x"
        )
    print(f"load average      {' '.join(f'{value:.2f}' for value in os.getloadavg())} (1, 5, 15 min, at the end)")
    print(f"server log        {log.name}")


if __name__ == "__main__":
    main()
