"""JSON from outside, read safely: a bounded nesting depth, and text PostgreSQL can store.

`loads` refuses a document nested deeper than MAX_DEPTH with JSONTooDeep (a ValueError) before
the parser descends into it, so 2 kB of `[[[[...` is a clear refusal, never a RecursionError.
`storable` replaces what a text or jsonb column refuses (NUL, and surrogates without their pair,
which `\\u0000` and `\\ud800` escapes produce) with U+FFFD, so a value read from a webhook can be
stored and applied.
"""

from __future__ import annotations

import json
import re
from itertools import accumulate

MAX_DEPTH = 64  # far deeper than any marketplace's documents, far below Python's recursion limit

_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_NOT_BRACKET = re.compile(r"[^\[\]{}]+")
_STEP = {"[": 1, "{": 1, "]": -1, "}": -1}
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


class JSONTooDeep(ValueError):
    def __init__(self, max_depth: int):
        super().__init__(f"The JSON is nested more than {max_depth} levels deep")
        self.max_depth = max_depth


def depth(text: str) -> int:
    """The deepest nesting of arrays and objects in `text` (brackets inside strings don't
    count), without recursion: strings are removed, then the brackets' running sum is taken."""
    brackets = _NOT_BRACKET.sub("", _STRING.sub("", text))
    return max(accumulate(map(_STEP.__getitem__, brackets)), default=0)


def loads(data: str | bytes, *, max_depth: int = MAX_DEPTH, **kwargs):
    """json.loads with a bounded depth: JSONTooDeep (a ValueError) past `max_depth`. Bytes are
    decoded as UTF-8 (UnicodeDecodeError, also a ValueError, when they are not)."""
    text = data.decode("utf-8") if isinstance(data, bytes | bytearray) else data
    if depth(text) > max_depth:
        raise JSONTooDeep(max_depth)
    try:
        return json.loads(text, **kwargs)
    except RecursionError:  # unreachable below MAX_DEPTH; never let it surface as a 500
        raise JSONTooDeep(max_depth) from None


def storable_text(text: str) -> str:
    return _UNSTORABLE.sub("\ufffd", text)


def storable(value):
    """`value` (parsed JSON: depth already bounded) with every string, keys included, made
    storable."""
    if isinstance(value, str):
        return storable_text(value)
    if isinstance(value, dict):
        return {storable_text(str(k)): storable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [storable(item) for item in value]
    return value
