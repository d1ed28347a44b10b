"""Access to the write endpoints of ``mer serve``: the optional bearer token."""

from __future__ import annotations

import hmac

from fastapi import HTTPException, Request


def require_token(request: Request) -> None:
    """Dependency of the write (POST) endpoints: with a token set, ``Authorization: Bearer TOKEN`` or 401.

    Compared in constant time (:func:`hmac.compare_digest`), as bytes: a header with
    non-ASCII characters is a wrong token, not an error.
    """
    token = request.app.state.config.token
    if token is None:
        return
    given = request.headers.get("authorization", "").encode("utf-8", "replace")
    if not hmac.compare_digest(given, f"Bearer {token}".encode()):
        raise HTTPException(401, "this server needs a token: send the header 'Authorization: Bearer TOKEN'",
                            headers={"WWW-Authenticate": "Bearer"})
