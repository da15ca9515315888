"""`manage.py sandbox`: a developer's remote control for the gateway sandbox server, in the spirit of `stripe trigger`
and `stripe listen`. It is an HTTP client of the sandbox's control endpoints at SANDBOX_BASE_URL (payfirst never
imports the sandbox's code), and refuses to run when PAYFIRST_GATEWAYS=live.

    manage.py sandbox trigger payment.captured --order order_Q1w2E3r4T5y6U7   # one signed event, sent now
    manage.py sandbox deliveries [--gateway razorpay] [--order ID] [--state failed] [--limit 20]
    manage.py sandbox faults                                                # what is armed
    manage.py sandbox faults arm razorpay late_authorization [--count 1] [--delay 120]
    manage.py sandbox faults clear [--gateway phonepe]
    manage.py sandbox endpoints [--enable razorpay]                         # a disabled webhook endpoint
"""

from __future__ import annotations

import json
from typing import Any

import httpx
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

GATEWAYS = ("razorpay", "phonepe")
TIMEOUT_SECONDS = 10.0


class Command(BaseCommand):
    help = "Trigger sandbox webhooks, list what the sandbox sent, and show or arm its faults (sandbox mode only)."

    def add_arguments(self, parser: CommandParser) -> None:
        commands = parser.add_subparsers(dest="action", required=True)
        trigger = commands.add_parser("trigger", help="send one signed event about an order, now")
        trigger.add_argument(
            "event", help="e.g. payment.captured, order.paid, refund.processed, checkout.order.completed"
        )
        trigger.add_argument("--order", required=True, help="Razorpay order_… id or PhonePe merchantOrderId")
        deliveries = commands.add_parser("deliveries", help="webhooks the sandbox sent and how they were answered")
        deliveries.add_argument("--gateway", choices=GATEWAYS)
        deliveries.add_argument("--order", help="only those about this order, payment or refund id")
        deliveries.add_argument("--state", choices=["pending", "delivered", "failed", "dropped", "skipped"])
        deliveries.add_argument("--event")
        deliveries.add_argument("--limit", type=int, default=20)
        faults = commands.add_parser("faults", help="show armed faults, arm one, or clear them")
        fault_actions = faults.add_subparsers(dest="fault_action")
        arm = fault_actions.add_parser("arm")
        arm.add_argument("gateway", choices=GATEWAYS)
        arm.add_argument("fault")
        arm.add_argument("--count", type=int, default=1)
        arm.add_argument("--delay", type=int, dest="delay_seconds", help="gateway seconds, for the timed faults")
        clear = fault_actions.add_parser("clear")
        clear.add_argument("--gateway", choices=GATEWAYS)
        endpoints = commands.add_parser("endpoints", help="the webhook endpoints; enable one Razorpay disabled")
        endpoints.add_argument("--enable", choices=GATEWAYS)

    def handle(self, *args: Any, **options: Any) -> None:
        if settings.PAYFIRST_GATEWAYS != "sandbox":
            raise CommandError("The sandbox exists only when PAYFIRST_GATEWAYS=sandbox.")
        self.base = f"{settings.SANDBOX_BASE_URL.rstrip('/')}/sandbox"
        action = options["action"]
        if action == "trigger":
            self._trigger(options)
        elif action == "deliveries":
            self._deliveries(options)
        elif action == "faults":
            self._faults(options)
        else:
            self._endpoints(options)

    def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        try:
            response = httpx.request(method, f"{self.base}{path}", timeout=TIMEOUT_SECONDS, **kwargs)
        except httpx.HTTPError as exc:
            raise CommandError(
                f"The sandbox at {settings.SANDBOX_BASE_URL} did not answer ({type(exc).__name__}). "
                "Is it running? `make run` starts it; `make sandbox` starts it alone."
            ) from None
        if response.status_code == 204:
            return None
        body = response.json()
        if response.status_code >= 400:
            error = body.get("error", {}) if isinstance(body, dict) else {}
            detail = json.dumps(error.get("fields")) if error.get("fields") else ""
            raise CommandError(f"{error.get('message', response.text)} {detail}".strip())
        return body

    def _trigger(self, options: dict[str, Any]) -> None:
        sent = self._call("POST", "/control/trigger/", json={"event": options["event"], "order_id": options["order"]})
        for delivery in sent:
            self.stdout.write(
                f"queued {delivery['event']} #{delivery['id']} ({delivery['state']}) for {delivery['subject']} "
                f"-> {delivery['url']}"
            )

    def _deliveries(self, options: dict[str, Any]) -> None:
        params = {
            key: value
            for key, value in {
                "gateway": options["gateway"],
                "subject": options["order"],
                "state": options["state"],
                "event": options["event"],
                "page_size": max(1, min(options["limit"], 200)),
            }.items()
            if value
        }
        page = self._call("GET", "/control/deliveries/", params=params)
        self.stdout.write(f"{'id':>6}  {'created':19}  {'gateway':8}  {'event':34}  {'state':9}  answers")
        for item in page["results"]:
            answers = ", ".join(str(a["status_code"] or a["error"]) for a in item["attempts"]) or "-"
            self.stdout.write(
                f"{item['id']:>6}  {item['created_at'][:19]:19}  {item['gateway']:8}  {item['event']:34}  "
                f"{item['state']:9}  {answers}"
            )
        self.stdout.write(f"{page['count']} deliveries in all.")

    def _faults(self, options: dict[str, Any]) -> None:
        if options.get("fault_action") == "arm":
            body = {key: options[key] for key in ("gateway", "fault", "count", "delay_seconds") if options.get(key)}
            fault = self._call("POST", "/faults/", json=body)
            self.stdout.write(f"armed {fault['gateway']} {fault['fault']} x{fault['count']}")
            return
        if options.get("fault_action") == "clear":
            self._call("DELETE", "/faults/", params={"gateway": options["gateway"]} if options.get("gateway") else {})
            self.stdout.write("faults cleared")
            return
        page = self._call("GET", "/faults/", params={"page_size": 100})
        if not page["results"]:
            self.stdout.write("No faults armed: the sandbox is kind.")
        for fault in page["results"]:
            delay = f" delay {fault['delay_seconds']} s" if fault["delay_seconds"] else ""
            self.stdout.write(f"{fault['gateway']:8}  {fault['fault']:20}  x{fault['count']}{delay}")

    def _endpoints(self, options: dict[str, Any]) -> None:
        if options.get("enable"):
            self._call("POST", "/control/endpoints/", json={"gateway": options["enable"]})
        for endpoint in self._call("GET", "/control/endpoints/"):
            state = "DISABLED" if endpoint["is_disabled"] else "enabled"
            self.stdout.write(f"{endpoint['gateway']:8}  {state:8}  {endpoint['url']}")
