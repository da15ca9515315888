"""How every API answer is negotiated and written: DRF's JSON, produced by orjson, and the common Accept headers
answered without DRF's general negotiation.

`JSONRenderer` writes the bytes DRF's own JSONRenderer writes (compact, UTF-8, U+2028/U+2029 escaped, dates and
datetimes as DRF's encoder spells them, lazy strings and Decimals through that encoder too), in a fraction of the
time; a client asking for `application/json; indent=N` gets DRF's indented output. `ContentNegotiation` answers an
absent Accept header, `*/*` and `application/json` with the view's first renderer directly — what DRF's negotiation
returns for them — and hands every other header, and any `?format=`, to DRF.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import orjson
from rest_framework import renderers
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.request import Request
from rest_framework.utils.encoders import JSONEncoder

_OPTIONS = orjson.OPT_NON_STR_KEYS | orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS
_ENCODER = JSONEncoder()
# U+2028 and U+2029 are valid JSON but end a line in older JavaScript: DRF escapes them, so this does too.
_LINE_SEPARATORS = ((b"\xe2\x80\xa8", b"\\u2028"), (b"\xe2\x80\xa9", b"\\u2029"))


class JSONRenderer(renderers.JSONRenderer):
    def render(
        self, data: Any, accepted_media_type: str | None = None, renderer_context: Mapping[str, Any] | None = None
    ) -> bytes:
        if data is None:
            return b""
        if self.get_indent(accepted_media_type or "", renderer_context or {}) is not None:
            return super().render(data, accepted_media_type, renderer_context)
        # orjson refuses what DRF's encoder also refuses (NaN is written as null by orjson, but payfirst has no
        # floats in its answers: money is integer paise); everything orjson does not know natively goes to DRF's.
        try:
            body = orjson.dumps(data, default=_ENCODER.default, option=_OPTIONS)
        except orjson.JSONEncodeError:  # what orjson cannot write (an integer over 64 bits, ...): DRF's way
            return super().render(data, accepted_media_type, renderer_context)
        if b"\xe2\x80" in body:
            for raw, escaped in _LINE_SEPARATORS:
                body = body.replace(raw, escaped)
        return body


class ContentNegotiation(DefaultContentNegotiation):
    def select_renderer(
        self, request: Request, renderers: Iterable[renderers.BaseRenderer], format_suffix: str | None = None
    ) -> tuple[renderers.BaseRenderer, str]:
        available = list(renderers)
        accept = request.META.get("HTTP_ACCEPT")
        first = available[0] if available else None
        format_parameter = self.settings.URL_FORMAT_OVERRIDE
        if (
            first is not None
            and format_suffix is None
            and not (format_parameter and request.query_params.get(format_parameter))
            and (accept is None or accept == "*/*" or (accept == first.media_type == "application/json"))
        ):
            return first, first.media_type
        return super().select_renderer(request, available, format_suffix)
