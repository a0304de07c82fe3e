"""The API's request parsers (REST_FRAMEWORK's DEFAULT_PARSER_CLASSES). A module of its own:
DRF's APIView reads that setting when it is imported, so the parser cannot live in a module that
imports the views."""

from __future__ import annotations

from django.conf import settings
from rest_framework import exceptions
from rest_framework.parsers import JSONParser
from rest_framework.utils.json import strict_constant

from integrations import jsontext


class BoundedJSONParser(JSONParser):
    """DRF's JSON parser with a bounded nesting depth (jsontext.MAX_DEPTH): a body nested
    deeper is a 400 saying so, never a RecursionError (a 500)."""

    def parse(self, stream, media_type=None, parser_context=None):
        encoding = (parser_context or {}).get("encoding") or settings.DEFAULT_CHARSET
        try:
            text = stream.read().decode(encoding)
            parse_constant = strict_constant if self.strict else None
            return jsontext.loads(text, parse_constant=parse_constant)
        except jsontext.JSONTooDeep as exc:
            raise exceptions.ParseError(
                f"{exc}; send the fields as the API describes them."
            ) from None
        except ValueError as exc:  # not in the encoding, not JSON
            raise exceptions.ParseError(f"JSON parse error - {exc}") from None
