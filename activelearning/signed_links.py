"""Signed, expiring links for someone without an account (an external training pipeline, Label Studio's users):
claims signed with the server's key (django.core.signing, salted by the link's purpose) and an `expires` claim.
One reader for every kind, so each refuses a forged, altered or expired link the same way."""

from __future__ import annotations

import time
from typing import Any

from django.core import signing

from annotations.errors import Forbidden


def sign_claims(claims: dict[str, Any], *, salt: str, expires: int) -> str:
    """A token for `claims` that `read_claims` accepts until `expires` (a Unix time)."""
    return signing.dumps({**claims, "expires": expires}, salt=salt, compress=True)


def read_claims(token: str, *, salt: str, what: str, max_age: int | None = None) -> dict[str, Any]:
    """The claims of a valid, unexpired link; 403 `bad_link` or `link_expired` (naming `what`) otherwise.
    `max_age` also caps the link's age, whatever its own expiry says."""
    try:
        claims = signing.loads(token, salt=salt, max_age=max_age)
    except signing.SignatureExpired as exc:
        raise Forbidden(f"This {what} has expired.", code="link_expired") from exc
    except signing.BadSignature as exc:
        raise Forbidden(f"This {what} is not valid.", code="bad_link") from exc
    if not isinstance(claims, dict):
        raise Forbidden(f"This {what} is not valid.", code="bad_link")
    expires = claims.get("expires")
    if not isinstance(expires, int) or time.time() >= expires:
        raise Forbidden(f"This {what} has expired.", code="link_expired")
    return claims
