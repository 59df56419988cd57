"""``root``: a JSON Pointer (RFC 6901) to the value whose records the export uses.

``parse`` turns the pointer's text into its reference tokens; ``select`` picks the events of the
value they name out of a document's ijson ``basic_parse`` events, as the parser makes them, so the
export streams a value deep inside a document just as it streams a whole one.

Choices where the RFC leaves them to the application:

- an array index is ``0`` or a decimal number without leading zeros; ``-`` (the element after the
  last) names nothing, and neither does a token that is not an index (nor one of more than 18
  digits, past anything a file can hold);
- an object with the same name twice (RFC 8259 lets parsers differ) is matched at its first member,
  the one a streaming reader meets first.
"""

import collections
import re
from collections.abc import Iterable, Iterator
from typing import Any

from ..errors import BadRequest, NotTabular

Event = tuple[str, Any]

_BAD_ESCAPE = re.compile(r"~(?![01])")
_INDEX = re.compile(r"0|[1-9][0-9]{0,17}")  # longer indexes name nothing a document can hold
_DEPTH_CHANGE = {"start_map": 1, "start_array": 1, "end_map": -1, "end_array": -1}
_SCALARS = {
    "null": "null",
    "boolean": "a boolean",
    "integer": "a number",
    "double": "a number",
    "number": "a number",
    "string": "a string",
}


def parse(pointer: str) -> list[str]:
    """The reference tokens of ``pointer``: ``""`` is the whole document (no tokens), ``"/a~1b~0c"``
    is ``["a/b~c"]``. BadRequest when it is not a JSON Pointer."""
    if pointer == "":
        return []
    if not pointer.startswith("/"):
        raise BadRequest(
            f"root {pointer!r} is not a JSON Pointer: it must be empty (the whole document) or start"
            " with '/', as in '/results' or '/data/items'."
        )
    if _BAD_ESCAPE.search(pointer):
        raise BadRequest(
            f"root {pointer!r} is not a JSON Pointer: '~' must be followed by 0 (for '~') or 1 (for '/')."
        )
    return [token.replace("~1", "/").replace("~0", "~") for token in pointer[1:].split("/")]


def unparse(tokens: list[str]) -> str:
    """The pointer text of ``tokens`` (``parse``'s inverse), for messages."""
    return "".join("/" + token.replace("~", "~0").replace("/", "~1") for token in tokens)


def select(events: Iterable[Event], tokens: list[str]) -> Iterator[Event]:
    """The events of the value ``tokens`` names, then nothing; the rest of ``events`` is read (and
    so still checked by the parser) once the value's last event has been taken. NotTabular, after
    the document ended, when the pointer names nothing in it."""
    if not tokens:
        return iter(events)  # the whole document, without a generator's cost per event
    return _selected(iter(events), tokens)


def _selected(events: Iterator[Event], tokens: list[str]) -> Iterator[Event]:
    first, missing = _find(events, tokens)
    if first is None:
        collections.deque(events, maxlen=0)
        raise NotTabular(f"root {unparse(tokens)!r} points at nothing in this dataset: {missing}.")
    yield first
    depth = _DEPTH_CHANGE.get(first[0], 0)
    if depth:
        for event in events:
            yield event
            depth += _DEPTH_CHANGE.get(event[0], 0)
            if not depth:
                break
    collections.deque(events, maxlen=0)


def _find(events: Iterator[Event], tokens: list[str]) -> tuple[Event | None, str]:
    """The first event of the value ``tokens`` names, with ``events`` just past it; or None and
    where the pointer stopped matching, with ``events`` somewhere inside the document."""
    current = next(events, None)
    for depth, token in enumerate(tokens):
        if current is None:
            return None, "the document is empty"
        where = repr(unparse(tokens[:depth])) if depth else "the document"
        kind = current[0]
        if kind == "start_map":
            current = _member(events, token)
            if current is None:
                return None, f"{where} has no member {token!r}"
        elif kind == "start_array":
            if _INDEX.fullmatch(token) is None:
                return None, f"{where} is an array, and {token!r} is not an index into it"
            current, length = _element(events, int(token))
            if current is None:
                return None, f"{where} is an array of length {length}, with no index {token}"
        else:
            return None, f"{where} is {_SCALARS[kind]}, not an object or an array"
    return current, ""


def _member(events: Iterator[Event], name: str) -> Event | None:
    """In an object whose ``start_map`` was just read: the first event of member ``name``."""
    for kind, key in events:
        if kind == "end_map":
            return None
        value = next(events, None)
        if value is None or key == name:
            return value
        _skip(events, value)
    return None


def _element(events: Iterator[Event], index: int) -> tuple[Event | None, int]:
    """In an array whose ``start_array`` was just read: the first event of element ``index``, or
    None and the array's length."""
    position = 0
    for event in events:
        if event[0] == "end_array":
            return None, position
        if position == index:
            return event, position
        _skip(events, event)
        position += 1
    return None, position


def _skip(events: Iterator[Event], first: Event) -> None:
    """Read the rest of the value whose first event is ``first``."""
    depth = _DEPTH_CHANGE.get(first[0], 0)
    if depth:
        for kind, _ in events:
            depth += _DEPTH_CHANGE.get(kind, 0)
            if not depth:
                return
