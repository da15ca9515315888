"""Start-up check of the seller's GST settings: a document must never be issued under an invalid GSTIN."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import CheckMessage, Error, register

from payfirst.core.gstin import gstin_problem, state_code_for


@register()
def check_seller(**_kwargs: Any) -> list[CheckMessage]:
    problems: list[CheckMessage] = []
    state_code = state_code_for(settings.GST_SELLER_STATE)
    if state_code is None:
        problems.append(
            Error(
                f"GST_SELLER_STATE {settings.GST_SELLER_STATE!r} is not an Indian state or union territory.",
                id="invoices.E001",
            )
        )
    problem = gstin_problem(settings.GST_SELLER_GSTIN, state_code=state_code)
    if problem:
        problems.append(Error(f"GST_SELLER_GSTIN {settings.GST_SELLER_GSTIN!r}: {problem}", id="invoices.E002"))
    if not settings.GST_SELLER_LEGAL_NAME.strip() or not settings.GST_SELLER_ADDRESS.strip():
        problems.append(Error("GST_SELLER_LEGAL_NAME and GST_SELLER_ADDRESS must be set.", id="invoices.E003"))
    if not 0 <= settings.GST_STANDARD_RATE <= 4000:
        problems.append(Error("GST_STANDARD_RATE is basis points from 0 to 4000 (1800 = 18 %).", id="invoices.E004"))
    return problems
