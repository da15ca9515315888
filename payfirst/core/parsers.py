"""The API's JSON parser: DRF's, plus a nesting limit checked on the raw text before parsing, the parser's own
RecursionError mapped to a 400, and NUL characters refused (PostgreSQL cannot store them) wherever they appear.
"""

from __future__ import annotations

import codecs
import json
import re
from collections.abc import Mapping
from typing import IO, Any

from django.conf import settings
from rest_framework import parsers
from rest_framework.exceptions import ParseError
from rest_framework.settings import api_settings

from payfirst.core.errors import InvalidInput, MalformedRequest

# The characters that open or close a level, and the two that matter inside a string.
_STRUCTURAL = re.compile(r'[\[\]{}"\\]')


def nesting_depth(text: str) -> int:
    """The deepest level of [ and { in `text`, ignoring brackets inside strings. Linear in the text's length."""
    depth = deepest = 0
    in_string = False
    skip_until = -1
    for match in _STRUCTURAL.finditer(text):
        at = match.start()
        if at < skip_until:
            continue  # the character after a backslash is escaped, whatever it is
        char = match.group()
        if in_string:
            if char == "\\":
                skip_until = at + 2
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif char in "]}":
            depth -= 1
    return deepest


def _has_nul(data: Any) -> bool:
    """True when any string or key in the parsed document holds a NUL. Iterative: the depth is already bounded."""
    stack = [data]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if "\x00" in item:
                return True
        elif isinstance(item, Mapping):
            for key, value in item.items():
                if "\x00" in key:
                    return True
                stack.append(value)
        elif isinstance(item, list):
            stack.extend(item)
    return False


def _refuse_constant(name: str) -> None:
    raise ValueError(f"{name} is not valid JSON")


class JSONParser(parsers.JSONParser):
    def parse(self, stream: IO[bytes] | None, media_type: str | None = None, parser_context: Any = None) -> Any:
        parser_context = parser_context or {}
        encoding = parser_context.get("encoding", settings.DEFAULT_CHARSET)
        raw = stream.read() if stream is not None else b""
        try:
            text = codecs.decode(raw, encoding)
        except (UnicodeDecodeError, LookupError):
            raise MalformedRequest(f"The request body is not valid {encoding} text.") from None
        limit = settings.API_MAX_JSON_DEPTH
        if nesting_depth(text) > limit:
            raise MalformedRequest(f"The JSON is nested more than {limit} levels deep.")
        try:
            data = json.loads(text, parse_constant=_refuse_constant if api_settings.STRICT_JSON else None)
        except RecursionError:
            raise MalformedRequest(f"The JSON is nested more than {limit} levels deep.") from None
        except ValueError as error:
            raise ParseError(f"JSON parse error - {error}") from None
        if _has_nul(data):
            raise InvalidInput(
                "Text may not contain NUL characters.", fields={"non_field_errors": ["Remove the NUL (\\u0000)."]}
            )
        return data
