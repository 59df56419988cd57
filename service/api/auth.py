"""Bearer-token access to the datasets: open when API_TOKENS is empty."""

import hmac
from collections.abc import Callable
from functools import wraps
from typing import Any

from flask import current_app, request

from ..errors import Unauthorized


def _authorized(header: str, tokens: list[str]) -> bool:
    scheme, _, presented = header.partition(" ")
    if scheme.lower() != "bearer" or not presented:
        return False
    # Compare against every token, in constant time each, so timing says nothing about them.
    matches = [hmac.compare_digest(presented.encode(), token.encode()) for token in tokens]
    return any(matches)


def require_token(view: Callable[..., Any]) -> Callable[..., Any]:
    """Refuse the call with 401 unless it carries one of the configured tokens.

    Runs before the view touches the body, so an unauthorised upload is never read.
    """

    @wraps(view)
    def checked(*args: Any, **kwargs: Any) -> Any:
        tokens = current_app.config["API_TOKENS"]
        if tokens and not _authorized(request.headers.get("Authorization", ""), tokens):
            raise Unauthorized("A valid bearer token is required: send 'Authorization: Bearer <token>'.")
        return view(*args, **kwargs)

    return checked
