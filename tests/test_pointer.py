"""``root``: JSON Pointers parsed per RFC 6901, and the events of the value one names.

The oracle for ``select``: resolve the pointer on ``json.loads`` of the document by hand, and
compare with the events ijson makes for that value on its own.
"""

import io
import json

import ijson
import pytest

from service.errors import BadRequest, NotTabular
from service.export import pointer

DOCUMENT = {
    "count": 3,
    "next": None,
    "results": [
        {"id": 1, "tags": ["a", "b"], "owner": {"login": "ada"}},
        {"id": 2, "tags": [], "owner": None},
        {"id": 3, "tags": [["x"], [["y"]]], "owner": {"login": "grace"}},
    ],
    "a/b": {"m~n": [True, False]},
    "": {"": "empty names"},
    " ": 0.5,
    "meta": {"deep": {"er": {"est": [10, [20, [30, {"leaf": "here"}]]]}}},
}


def events(document: object) -> list[tuple[str, object]]:
    return list(ijson.basic_parse(io.BytesIO(json.dumps(document).encode()), use_float=True))


def selected(document: object, text: str) -> list[tuple[str, object]]:
    return list(pointer.select(events(document), pointer.parse(text)))


def resolve(document: object, tokens: list[str]) -> object:
    """RFC 6901 evaluation on a Python value, written independently of ``select``."""
    for token in tokens:
        document = document[int(token)] if isinstance(document, list) else document[token]
    return document


@pytest.mark.parametrize(
    ("text", "tokens"),
    [
        ("", []),
        ("/", [""]),
        ("//", ["", ""]),
        ("/results", ["results"]),
        ("/data/items", ["data", "items"]),
        ("/a~1b", ["a/b"]),
        ("/m~0n", ["m~n"]),
        ("/a~1b~0c", ["a/b~c"]),
        ("/~01", ["~1"]),  # ~0 then 1, not ~1: the RFC's order of unescaping
        ("/~10", ["/0"]),
        ("/ ", [" "]),
        ("/0/-", ["0", "-"]),
        ("/caf\u00e9/\U0001f600", ["caf\u00e9", "\U0001f600"]),
    ],
)
def test_parse(text: str, tokens: list[str]) -> None:
    assert pointer.parse(text) == tokens
    assert pointer.unparse(tokens) == text


@pytest.mark.parametrize("text", ["results", "#/results", " /results", "/a~2", "/a~", "/~", "/a~b/c", "~1"])
def test_malformed_pointers_are_bad_requests(text: str) -> None:
    with pytest.raises(BadRequest) as caught:
        pointer.parse(text)
    assert repr(text) in caught.value.message
    assert "JSON Pointer" in caught.value.message


@pytest.mark.parametrize(
    "text",
    [
        "",
        "/count",
        "/next",
        "/results",
        "/results/0",
        "/results/2",
        "/results/0/owner",
        "/results/0/owner/login",
        "/results/0/tags",
        "/results/0/tags/1",
        "/results/1/owner",
        "/results/2/tags/1/0",
        "/results/2/tags/1/0/0",
        "/a~1b",
        "/a~1b/m~0n",
        "/a~1b/m~0n/1",
        "/",
        "//",
        "/ ",
        "/meta/deep/er/est/1/1/1/leaf",
    ],
)
def test_select_yields_exactly_the_named_value(text: str) -> None:
    assert selected(DOCUMENT, text) == events(resolve(DOCUMENT, pointer.parse(text)))


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("/missing", "the document has no member 'missing'"),
        ("/results/3", "'/results' is an array of length 3, with no index 3"),
        ("/results/-", "'/results' is an array, and '-' is not an index into it"),
        ("/results/01", "'/results' is an array, and '01' is not an index into it"),
        ("/results/+1", "'/results' is an array, and '+1' is not an index into it"),
        ("/results/id", "'/results' is an array, and 'id' is not an index into it"),
        ("/results/99999999999999999999", "is not an index"),
        ("/count/x", "'/count' is a number, not an object or an array"),
        ("/next/x", "'/next' is null, not an object or an array"),
        ("/results/0/owner/login/x", "'/results/0/owner/login' is a string, not an object or an array"),
        ("/results/1/owner/login", "'/results/1/owner' is null"),
        ("/a~1b/m~0n/2", "'/a~1b/m~0n' is an array of length 2"),
        ("/a/b", "the document has no member 'a'"),
        ("/Results", "no member 'Results'"),  # names are case-sensitive
    ],
)
def test_a_pointer_to_nothing_is_not_tabular(text: str, why: str) -> None:
    with pytest.raises(NotTabular) as caught:
        selected(DOCUMENT, text)
    assert caught.value.message.startswith(f"root {text!r} points at nothing in this dataset")
    assert why in caught.value.message


def test_a_scalar_document_has_nothing_inside() -> None:
    with pytest.raises(NotTabular, match="the document is a string"):
        selected("just text", "/0")


def test_the_first_of_duplicate_names_is_selected() -> None:
    raw = b'{"items": [1], "items": [2, 3]}'
    assert list(pointer.select(ijson.basic_parse(io.BytesIO(raw)), ["items"])) == [
        ("start_array", None),
        ("number", 1),
        ("end_array", None),
    ]


def test_the_rest_of_the_document_is_still_parsed() -> None:
    """A selected value followed by a syntax error: the parser's error still surfaces, once the
    value has been read, so a broken document is never exported in part without notice."""
    raw = b'{"results": [{"id": 1}], "after": [1, 2,, 3]}'
    selection = pointer.select(ijson.basic_parse(io.BytesIO(raw)), ["results"])
    assert [next(selection) for _ in range(5)] == [
        ("start_array", None),
        ("start_map", None),
        ("map_key", "id"),
        ("number", 1),
        ("end_map", None),
    ]
    assert next(selection) == ("end_array", None)
    with pytest.raises(ijson.JSONError):
        next(selection)


def test_a_broken_document_is_a_parse_error_not_a_missing_root() -> None:
    raw = b'{"results": [1], "after": tru'
    with pytest.raises(ijson.JSONError):
        list(pointer.select(ijson.basic_parse(io.BytesIO(raw)), ["missing"]))


def test_nothing_is_raised_before_the_document_ends() -> None:
    """NotTabular comes after the last event: ``missing`` in the first member is not final."""
    consumed = []

    def watched():
        for event in events({"a": 1, "b": [1, 2, 3]}):
            consumed.append(event)
            yield event

    with pytest.raises(NotTabular):
        list(pointer.select(watched(), ["missing"]))
    assert consumed == events({"a": 1, "b": [1, 2, 3]})


def test_the_whole_document_when_the_pointer_is_empty() -> None:
    assert selected(DOCUMENT, "") == events(DOCUMENT)
    assert selected([1, 2], "") == events([1, 2])
