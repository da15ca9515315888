"""Reconciliation: ask the gateways about every payment and refund that is not final and apply what they say through
the same doors as webhooks (sync_payment, poll_refund); then the paid-but-not-fulfilled alarm. Safe to run twice or
in parallel: every change is a compare-and-set under the payment's row lock, so a second run finds nothing to do.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime, timedelta
from typing import TypeVar

from django.db.models import Q
from django.utils import timezone
from django_tasks import task
from prometheus_client import Counter as MetricCounter

from payfirst.fulfilment.models import Booking, Order, Subscription
from payfirst.gateways.base import GatewayError, GatewayStatus
from payfirst.gateways.base import RefundStatus as GatewayRefundStatus
from payfirst.gateways.registry import get_gateway
from payfirst.ops.tasks import periodic
from payfirst.payments import selectors
from payfirst.payments.models import Payment, Refund, RefundStatus
from payfirst.payments.refunds import poll_refund, record_gateway_refunds, unknown_gateway_refunds
from payfirst.payments.services import SyncOutcome, expire_payment, sync_payment
from payfirst.payments.states import CAPTURED_LIKE, LATE_CAPTURE_FROM, EventSource, PaymentStatus

logger = logging.getLogger("payfirst.payments.reconcile")

S = PaymentStatus
T = TypeVar("T")
# The summary table's rows, in order. Every run reports each of them, 0 included.
RESULTS: tuple[str, ...] = (
    "checked",
    "captured",
    "fulfilled",
    "refunded",
    "failed",
    "expired",
    "flagged",
    "unchanged",
    "outside_refunds",
    "errors",
    "alarms",
)
DEFAULT_SINCE = timedelta(days=3)

RECONCILE_RESULTS = MetricCounter(
    "payfirst_reconcile_results",
    "Reconciliation results: payments and refunds checked, what was learned, gateway errors and "
    "paid-but-not-fulfilled alarms",
    ["result"],
)
for _result in RESULTS:
    RECONCILE_RESULTS.labels(_result)  # every series exists from the start, reading 0

Progress = Callable[[Iterable[T], int], Iterable[T]]


def _no_progress(items: Iterable[T], total: int) -> Iterable[T]:
    return items


def open_payment_ids(*, limit: int, since: datetime | None) -> list[int]:
    """Payments worth asking about: PENDING ones with a gateway order, and the ended-unpaid ones a late capture could
    still arrive for. Oldest first, created since `since` (None: all)."""
    queryset = Payment.objects.filter(status__in=[S.PENDING, *LATE_CAPTURE_FROM]).exclude(gateway_order_id="")
    if since is not None:
        queryset = queryset.filter(created_at__gte=since)
    return list(queryset.order_by("pk").values_list("pk", flat=True)[:limit])


def pending_refund_ids(*, limit: int) -> list[int]:
    return list(Refund.objects.filter(status=RefundStatus.PENDING).order_by("pk").values_list("pk", flat=True)[:limit])


def unfulfilled_captures(*, since: datetime | None = None) -> list[int]:
    """CAPTURED payments with no order, booking or subscription and no pending or processed refund: money taken for
    nothing. Capture and fulfilment commit together, so this is empty unless something is badly wrong."""
    queryset = selectors.unfulfilled_captures()
    if since is not None:
        queryset = queryset.filter(Q(captured_at__gte=since) | Q(captured_at__isnull=True))
    return list(queryset.order_by("pk").values_list("pk", flat=True))


def _is_fulfilled(payment_id: int) -> bool:
    return any(model.objects.filter(payment_id=payment_id).exists() for model in (Order, Booking, Subscription))


def reconcile_payment(*, payment_id: int, dry_run: bool = False, actor_id: int | None = None) -> list[str]:
    """Ask the gateway about one payment and apply the answer; returns the summary rows it counts toward.

    A PENDING payment the gateway still calls pending is expired once past its expiry. A capture that ends in an
    automatic refund has that refund sent at once. Raises GatewayError when the gateway cannot answer.
    """
    payment = Payment.objects.select_related("cart").get(pk=payment_id)
    if dry_run:
        return [_would(payment)]
    source = EventSource.ADMIN if actor_id is not None else EventSource.RECONCILE
    outcome = sync_payment(payment=payment, source=source, actor_id=actor_id)
    if outcome == SyncOutcome.CAPTURED:
        return ["captured", "fulfilled"] if _is_fulfilled(payment.pk) else ["captured"]
    if outcome == SyncOutcome.AUTO_REFUND:
        results = ["captured"]
        for refund_id in Refund.objects.filter(payment_id=payment.pk, status=RefundStatus.PENDING).values_list(
            "pk", flat=True
        ):
            try:
                if poll_refund(refund_id=refund_id, source=source) == RefundStatus.PROCESSED:
                    results.append("refunded")
            except GatewayError as error:
                # The capture is recorded; its refund stays PENDING for the retry task and the next run.
                results.append("errors")
                logger.warning("automatic refund not sent yet", extra={"refund_id": refund_id, "error": str(error)})
        return results
    if outcome == SyncOutcome.FLAGGED:
        return ["flagged"]
    if outcome == SyncOutcome.FAILED:
        return ["failed"]
    unpaid = outcome in (SyncOutcome.PENDING, SyncOutcome.LEFT_UNCAPTURED)
    if unpaid and payment.status == S.PENDING and payment.expires_at <= timezone.now():
        return ["expired"] if expire_payment(payment_id=payment.pk) else ["unchanged"]
    return ["unchanged"]


def _would(payment: Payment) -> str:
    """What syncing would do, from the gateway's answer alone; writes nothing."""
    answer = get_gateway(payment.gateway).fetch_payment(gateway_order_id=payment.gateway_order_id)
    if payment.status in CAPTURED_LIKE or payment.status == S.FLAGGED:
        return "unchanged"
    matches = answer.amount.value == payment.amount and answer.currency == payment.currency
    if answer.status is GatewayStatus.CAPTURED:
        return "captured" if matches else "flagged"
    if answer.status is GatewayStatus.AUTHORIZED:
        # Capturing is for the capture door; a dry run only says whether it would take the money.
        return "captured" if matches and payment.status == S.PENDING else "unchanged"
    if answer.status is GatewayStatus.FAILED and payment.status == S.PENDING:
        return "failed"
    if payment.status == S.PENDING and payment.expires_at <= timezone.now():
        return "expired"
    return "unchanged"


def captured_payment_ids(*, limit: int, since: datetime | None) -> list[int]:
    """Captured payments whose gateway may hold refunds payfirst has not recorded (made in the gateway's dashboard):
    captured since `since`, with money left to refund. Oldest first."""
    queryset = Payment.objects.filter(status__in=[S.CAPTURED, S.PARTIALLY_REFUNDED, S.FLAGGED]).exclude(
        gateway_payment_id=""
    )
    if since is not None:
        # A FLAGGED payment has no captured_at (it was never accepted); staff are told to refund it at the gateway.
        queryset = queryset.filter(Q(captured_at__gte=since) | Q(status=S.FLAGGED, updated_at__gte=since))
    return list(queryset.order_by("pk").values_list("pk", flat=True)[:limit])


def reconcile_outside_refunds(*, payment_id: int, dry_run: bool = False) -> int:
    """Compare the gateway's refunds of one captured payment with payfirst's; record (and alarm on) those made
    outside payfirst. Returns how many there are (a dry run only counts them). Raises GatewayError."""
    payment = Payment.objects.get(pk=payment_id)
    listed = get_gateway(payment.gateway).list_refunds(
        gateway_order_id=payment.gateway_order_id, gateway_payment_id=payment.gateway_payment_id
    )
    if listed is None:  # PhonePe cannot list an order's refunds: its refund callbacks bring them
        return 0
    if dry_run:
        return len(unknown_gateway_refunds(payment=payment, refunds=listed))
    return len(record_gateway_refunds(payment_id=payment.pk, refunds=listed, source=EventSource.RECONCILE))


def reconcile_refund(*, refund_id: int, dry_run: bool = False) -> list[str]:
    """Send again or read back one PENDING refund; returns the summary rows it counts toward."""
    if dry_run:
        refund = Refund.objects.select_related("payment").get(pk=refund_id)
        if refund.status != RefundStatus.PENDING or not refund.gateway_refund_id:
            return ["unchanged"]  # one never answered would be sent again under its reference
        answer = get_gateway(refund.payment.gateway).fetch_refund(
            gateway_payment_id=refund.payment.gateway_payment_id,
            gateway_refund_id=refund.gateway_refund_id,
            reference=refund.reference,
        )
        return [
            {GatewayRefundStatus.PROCESSED: "refunded", GatewayRefundStatus.FAILED: "failed"}.get(
                answer.status, "unchanged"
            )
        ]
    before = Refund.objects.values_list("status", flat=True).get(pk=refund_id)
    after = poll_refund(refund_id=refund_id, source=EventSource.RECONCILE)
    if before == after:
        return ["unchanged"]
    return ["refunded"] if after == RefundStatus.PROCESSED else ["failed"]


def reconcile_open_payments(
    *,
    limit: int = 500,
    since: datetime | None = None,
    dry_run: bool = False,
    progress: Progress | None = None,
) -> Counter[str]:
    """Ask the gateway about up to `limit` non-final payments and up to `limit` PENDING refunds, apply what it says,
    record refunds made at the gateway outside payfirst for up to `limit` captured payments ("outside_refunds"), then
    raise the paid-but-not-fulfilled alarm for any CAPTURED payment without fulfilment or refund.

    A gateway error on one item counts under "errors" and the run goes on. `dry_run` asks (read-only calls only) but
    changes nothing, here or at the gateway. `progress(items, total)` wraps the work (the command passes tqdm).
    Returns the counts of RESULTS.
    """
    wrap = progress or _no_progress
    outcomes: Counter[str] = Counter(dict.fromkeys(RESULTS, 0))
    work: list[tuple[str, int]] = [("payment", pk) for pk in open_payment_ids(limit=limit, since=since)]
    work += [("refund", pk) for pk in pending_refund_ids(limit=limit)]
    for kind, pk in wrap(work, len(work)):
        outcomes["checked"] += 1
        try:
            if kind == "payment":
                results: Sequence[str] = reconcile_payment(payment_id=pk, dry_run=dry_run)
            else:
                results = reconcile_refund(refund_id=pk, dry_run=dry_run)
        except GatewayError as error:
            outcomes["errors"] += 1
            logger.warning(
                "reconciliation could not reach the gateway; counted and skipped",
                extra={f"{kind}_id": pk, "error": f"{type(error).__name__}: {error}"},
            )
            continue
        outcomes.update(results)
    for pk in captured_payment_ids(limit=limit, since=since):
        try:
            outcomes["outside_refunds"] += reconcile_outside_refunds(payment_id=pk, dry_run=dry_run)
        except GatewayError as error:
            outcomes["errors"] += 1
            logger.warning(
                "reconciliation could not list a payment's refunds; counted and skipped",
                extra={"payment_id": pk, "error": f"{type(error).__name__}: {error}"},
            )
    for payment_id in unfulfilled_captures(since=since):
        outcomes["alarms"] += 1
        logger.error(
            "ALARM paid but not fulfilled: a CAPTURED payment has no fulfilment and no refund",
            extra={"payment_id": payment_id, "alarm": "captured_without_fulfilment"},
        )
    if not dry_run:
        for result in RESULTS:
            RECONCILE_RESULTS.labels(result).inc(outcomes[result])
    logger.info("reconciliation finished", extra={"dry_run": dry_run, **{k: outcomes[k] for k in RESULTS}})
    return outcomes


def parse_since(value: str, *, now: datetime | None = None) -> datetime:
    """`--since`: an ISO date or datetime ("2026-11-20", "2026-11-20T10:00:00+05:30") or a duration back from now
    ("90m", "6h", "3d", "2w"). Raises ValueError for anything else."""
    now = now or timezone.now()
    text = value.strip()
    units = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
    if len(text) >= 2 and text[-1].lower() in units and text[:-1].isdigit():
        return now - timedelta(**{units[text[-1].lower()]: int(text[:-1])})
    moment = datetime.fromisoformat(text)
    if timezone.is_naive(moment):
        moment = timezone.make_aware(moment)
    return moment


@periodic(every=timedelta(minutes=5))
@task()
def reconcile_open_payments_task() -> dict[str, int]:
    """The worker's reconciliation: the last three days, at most 200 payments and 200 refunds per run."""
    return dict(reconcile_open_payments(limit=200, since=timezone.now() - DEFAULT_SINCE))
