"""Benchmark of the payment hot path on PostgreSQL: create-from-cart and capture -> fulfil, with query counts,
against PostgreSQL running the very same SQL directly (pgbench replaying what one capture sent).

    make bench
    # or: DATABASE_URL=postgres://postgres@127.0.0.1:5432/payfirst_bench .venv/bin/python -m benchmarks.run

It creates (and drops first) its own database, named by DATABASE_URL (default payfirst_bench), and prints figures;
it asserts nothing. Gateways are the in-memory FakeGateway: what is measured is payfirst and the database.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import date, timedelta
from datetime import time as clock

os.environ.setdefault("PAYFIRST_DEMO", "1")
os.environ.setdefault("PAYFIRST_GATEWAYS", "sandbox")
os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/payfirst_bench")
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
os.environ.setdefault("LOG_LEVEL", "WARNING")


def _recreate_database(url: str) -> str:
    import psycopg

    match = re.match(r"^(postgres(?:ql)?://[^/]+)/([A-Za-z0-9_]+)$", url)
    if match is None:
        sys.exit(f"DATABASE_URL must be postgres://user@host:port/dbname, got {url!r}")
    server, name = match.groups()
    with psycopg.connect(f"{server}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    return name


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--payments", type=int, default=300, help="payments to create and capture (default 300)")
    parser.add_argument("--lines", type=int, default=3, help="product lines per cart, besides 1 slot and 1 plan")
    parser.add_argument("--replays", type=int, default=500, help="replays of one capture for the SQL comparison")
    args = parser.parse_args()

    db_name = _recreate_database(os.environ["DATABASE_URL"])

    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection, transaction
    from django.test.utils import CaptureQueriesContext

    call_command("migrate", verbosity=0)

    from payfirst.accounts.models import Address, User
    from payfirst.cart.models import Cart, CartItem
    from payfirst.catalog.models import Plan, Product, Service, ServicePackage, Slot, Variant
    from payfirst.core.money import Paise
    from payfirst.gateways.base import GatewayPayment, GatewayStatus
    from payfirst.gateways.fake import FakeGateway
    from payfirst.gateways.registry import use_gateway
    from payfirst.payments.models import Payment
    from payfirst.payments.services import create_payment_for_cart, record_capture

    n = args.payments
    product = Product.objects.create(name="Brass Diya", slug="bench-diya")
    variants = [
        Variant.objects.create(
            product=product, sku=f"BENCH-{i}", name=f"Size {i}", price=19900 + i * 100, stock_on_hand=10 * n + 100
        )
        for i in range(args.lines)
    ]
    service = Service.objects.create(name="Satyanarayan Puja")
    package = ServicePackage.objects.create(service=service, name="Standard", price=250000)
    day = date.today() + timedelta(days=7)
    slot = Slot.objects.create(service=service, date=day, time=clock(10, 0), capacity=n + 10)
    plan = Plan.objects.create(code="bench-monthly", name="Monthly", price=99900, duration_days=30)

    users = []
    for i in range(n + 1):
        user = User.objects.create_user(email=f"bench{i}@example.com", password=None, full_name=f"Bench {i}")
        Address.objects.create(
            user=user,
            full_name=user.full_name,
            phone="+919876543210",
            address_line_1="1 MG Road",
            city="Bengaluru",
            state="Karnataka",
            postal_code="560001",
            is_default=True,
        )
        cart = Cart.objects.create(user=user)
        CartItem.objects.bulk_create(
            [CartItem(cart=cart, kind="product", variant=v, quantity=2) for v in variants]
            + [
                CartItem(cart=cart, kind="service", package=package, slot=slot),
                CartItem(cart=cart, kind="plan", plan=plan),
            ]
        )
        users.append(user)

    executed = {"count": 0}

    def count_queries(execute, sql, params, many, context):  # type: ignore[no-untyped-def]
        executed["count"] += 1  # counted without Django's debug cursor, which would slow what is timed
        return execute(sql, params, many, context)

    gateway = FakeGateway(name="razorpay")
    with use_gateway("razorpay", gateway), connection.execute_wrapper(count_queries):
        addresses = dict(Address.objects.values_list("user_id", "pk"))
        executed["count"] = 0
        started = time.perf_counter()
        payments = [
            create_payment_for_cart(user=user, gateway="razorpay", shipping_address_id=addresses[user.pk]).payment
            for user in users
        ]
        create_seconds = time.perf_counter() - started
        create_queries = executed["count"]

        def captured(payment: Payment) -> GatewayPayment:
            return GatewayPayment(
                gateway_order_id=payment.gateway_order_id,
                gateway_payment_id=f"pay_{payment.pk}",
                status=GatewayStatus.CAPTURED,
                amount=Paise(payment.amount),
                currency="INR",
            )

        spare = payments.pop()  # kept PENDING for the SQL replay below
        executed["count"] = 0
        started = time.perf_counter()
        for payment in payments:
            record_capture(payment=payment, gateway_payment=captured(payment), source="reconcile")
        capture_seconds = time.perf_counter() - started
        capture_queries = executed["count"]

        # The same capture, replayed on one PENDING payment and rolled back each time: first through payfirst,
        # then as the SQL it sent, straight to PostgreSQL with pgbench.
        connection.queries_log.clear()
        with CaptureQueriesContext(connection) as one_capture:
            with transaction.atomic():
                record_capture(payment=spare, gateway_payment=captured(spare), source="reconcile")
                transaction.set_rollback(True)
        started = time.perf_counter()
        for _ in range(args.replays):
            with transaction.atomic():
                record_capture(payment=spare, gateway_payment=captured(spare), source="reconcile")
                transaction.set_rollback(True)
        replay_seconds = time.perf_counter() - started

    statements = [
        q["sql"] for q in one_capture.captured_queries if not q["sql"].startswith(("SAVEPOINT", "RELEASE", "ROLLBACK"))
    ]
    pgbench_tps = None
    if shutil.which("pgbench"):
        with tempfile.NamedTemporaryFile("w", suffix=".sql", delete=False) as script:
            script.write("BEGIN;\n")
            for sql in statements:
                script.write(sql.replace("\n", " ").rstrip(";") + ";\n")
            script.write("ROLLBACK;\n")
        settings_db = connection.settings_dict
        result = subprocess.run(
            [
                "pgbench",
                "-n",
                "-h",
                settings_db["HOST"] or "127.0.0.1",
                "-p",
                str(settings_db["PORT"] or 5432),
                "-U",
                settings_db["USER"] or "postgres",
                "-f",
                script.name,
                "-t",
                str(args.replays),
                "-c",
                "1",
                db_name,
            ],
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        os.unlink(script.name)
        found = re.search(r"tps = ([0-9.]+)", result.stdout)
        if result.returncode != 0 or not found:
            print(result.stdout, result.stderr, file=sys.stderr)
        else:
            pgbench_tps = float(found.group(1))

    lines_per_cart = args.lines + 2
    print(f"payfirst hot path on PostgreSQL ({n} payments, {lines_per_cart} lines each, 1 client)")
    print(
        f"  create-from-cart : {len(users) / create_seconds:8.1f} payments/s   "
        f"{create_queries / len(users):5.1f} queries each (FakeGateway, no network)"
    )
    print(
        f"  capture -> fulfil: {len(payments) / capture_seconds:8.1f} captures/s   "
        f"{capture_queries / len(payments):5.1f} queries each (committed)"
    )
    replay_rate = args.replays / replay_seconds
    print(f"  capture replayed : {replay_rate:8.1f} /s through payfirst ({len(statements)} statements, rolled back)")
    if pgbench_tps is not None:
        print(f"  same SQL, pgbench: {pgbench_tps:8.1f} /s straight to PostgreSQL (rolled back)")
        print(f"  payfirst reaches {replay_rate / pgbench_tps:.0%} of PostgreSQL running its SQL directly")
    else:
        print("  pgbench not found or failed: no direct-SQL comparison")


if __name__ == "__main__":
    main()
