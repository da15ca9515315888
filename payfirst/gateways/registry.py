"""get_gateway(name): the one place payment code obtains a Gateway. A plain dict of factories; tests can swap one in."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

from payfirst.core.errors import InvalidInput
from payfirst.gateways.base import Gateway

GATEWAY_NAMES: tuple[str, ...] = ("razorpay", "phonepe")


def _razorpay() -> Gateway:
    # Imported on first use so that a process which never talks to Razorpay never loads its SDK.
    from payfirst.gateways.razorpay.gateway import RazorpayGateway

    return RazorpayGateway.from_settings()


def _phonepe() -> Gateway:
    from payfirst.gateways.phonepe.gateway import PhonePeGateway

    return PhonePeGateway.from_settings()


_FACTORIES: dict[str, Callable[[], Gateway]] = {"razorpay": _razorpay, "phonepe": _phonepe}
_overrides: dict[str, Gateway] = {}


def get_gateway(name: str) -> Gateway:
    """The configured adapter for `name` ("razorpay" or "phonepe")."""
    if name in _overrides:
        return _overrides[name]
    try:
        factory = _FACTORIES[name]
    except KeyError:
        raise InvalidInput(
            f"Unknown gateway {name!r}.", fields={"gateway": [f"Choose one of {', '.join(GATEWAY_NAMES)}."]}
        ) from None
    return factory()


@contextmanager
def use_gateway(name: str, gateway: Gateway) -> Iterator[Gateway]:
    """Serve `gateway` for `name` inside the block (tests and the demo's fault drills)."""
    previous = _overrides.get(name)
    _overrides[name] = gateway
    try:
        yield gateway
    finally:
        if previous is None:
            _overrides.pop(name, None)
        else:
            _overrides[name] = previous
