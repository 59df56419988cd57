"""Dataset ids: ULIDs (26 characters of Crockford base32).

The first 10 characters encode the creation time in milliseconds, so ids sort by creation
time as plain strings, and a plain S3 listing (which is in key order) is oldest first. The
remaining 80 bits are random, so ids from different processes do not collide; within one
process, ids made in the same millisecond count up from the first.
"""

import os
import re
import threading
import time
from datetime import datetime, timezone

_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
PATTERN = r"[0-7][0-9A-HJKMNP-TV-Z]{25}"
"""What every id matches, whole (also published in the API spec)."""
_PATTERN = re.compile(PATTERN)
_RANDOM_BITS = 80

_lock = threading.Lock()
_last = (0, 0)  # (milliseconds, random part) of the last id this process made


def _encode(number: int, length: int) -> str:
    chars = []
    for _ in range(length):
        number, digit = divmod(number, 32)
        chars.append(_ALPHABET[digit])
    return "".join(reversed(chars))


def new_id() -> str:
    """A new id, later than every id this process made before (monotonic within a millisecond)."""
    global _last
    with _lock:
        millis = time.time_ns() // 1_000_000
        last_millis, last_random = _last
        if millis <= last_millis:
            millis, random_part = last_millis, last_random + 1
        else:
            random_part = int.from_bytes(os.urandom(_RANDOM_BITS // 8), "big")
        _last = (millis, random_part)
    return _encode(millis, 10) + _encode(random_part, 16)


def is_valid(text: str) -> bool:
    """Whether ``text`` is a well-formed id (checked before any storage call)."""
    return bool(_PATTERN.fullmatch(text))


def created_at(dataset_id: str) -> datetime:
    """The creation time encoded in a valid id."""
    millis = 0
    for char in dataset_id[:10]:
        millis = millis * 32 + _ALPHABET.index(char)
    return datetime.fromtimestamp(millis / 1000, tz=timezone.utc)
