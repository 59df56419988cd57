"""A multipart form read as it arrives (api/form.py), through the app: what it holds in memory and
what it says of a form it cannot read."""

import io

import pytest

BOUNDARY = "zz"
MB = 1024 * 1024


class Endless(io.RawIOBase):
    """A body that goes on: ``head``, then ``filler`` for ever; it counts what was read of it."""

    def __init__(self, head: bytes, filler: bytes) -> None:
        self.head, self.filler, self.given = head, filler, 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:  # type: ignore[no-untyped-def]
        data = (
            self.head[: len(buffer)] or (self.filler * (len(buffer) // len(self.filler) + 1))[: len(buffer)]
        )
        self.head = self.head[len(data) :]
        buffer[: len(data)] = data
        self.given += len(data)
        return len(data)


@pytest.mark.parametrize(
    "head",
    [b'--zz\r\nContent-Disposition: form-data; name="file"; filename="a.json"\r\nX-Pad: ', b""],
    ids=["part-headers-that-never-end", "a-preamble-that-never-ends"],
)
@pytest.mark.parametrize(
    "sent",
    [
        {"CONTENT_LENGTH": str(MB * 1024)},
        {"CONTENT_LENGTH": "", "HTTP_TRANSFER_ENCODING": "chunked", "wsgi.input_terminated": True},
    ],
    ids=["declared-length", "chunked"],
)
def test_a_form_that_never_gets_to_its_data_is_413_after_a_bounded_read(client, head, sent):
    """The decoder holds everything until a part's headers end: past a plain field's limit and
    one read of the body, the form is refused instead of held in memory (1 GB of it before),
    saying why whether or not the body declared its length."""
    body = Endless(head, b"x" * 4096)
    response = client.post(
        "/datasets/",
        content_type=f"multipart/form-data; boundary={BOUNDARY}",
        environ_overrides={"wsgi.input": body, **sent},
    )
    assert response.status_code == 413, response.get_json()
    assert response.get_json()["message"].startswith("The form has too many parts")
    assert body.given < 4 * MB


def test_a_boundary_that_is_not_ascii_is_a_400_saying_so(client):
    """RFC 2231 lets a parameter be any text (``boundary*=UTF-8''%E2%82%AC``); a boundary is ASCII."""
    body = '--€\r\nContent-Disposition: form-data; name="file"; filename="d.json"\r\n\r\n{}\r\n--€--\r\n'
    response = client.post(
        "/datasets/",
        data=body.encode(),
        content_type="multipart/form-data; boundary*=UTF-8''%E2%82%AC",
    )
    assert response.status_code == 400, response.get_json()
    assert "boundary is not ASCII" in response.get_json()["message"]


def test_a_file_sent_as_text_in_the_field_says_how_to_send_it_as_a_file(client):
    """``curl -F 'file=<data.json'`` sends the file's text as a plain field."""
    body = b'--zz\r\nContent-Disposition: form-data; name="file"\r\n\r\n[1]\r\n--zz--\r\n'
    response = client.post("/datasets/", data=body, content_type="multipart/form-data; boundary=zz")
    assert response.status_code == 400
    assert "-F 'file=@data.json'" in response.get_json()["message"]


def test_a_part_without_content_disposition_is_named(client):
    body = b"--zz\r\nContent-Type: application/json\r\n\r\n[1]\r\n--zz--\r\n"
    response = client.post("/datasets/", data=body, content_type="multipart/form-data; boundary=zz")
    assert response.status_code == 400
    assert "no Content-Disposition" in response.get_json()["message"]
