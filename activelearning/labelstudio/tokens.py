"""The link's API token at rest: Fernet (AES-128-CBC + HMAC-SHA256) under a key derived from Loupe's secret key,
so a database dump alone does not hand out a Label Studio account. Rotating LOUPE_SECRET_KEY means entering the
token again (the link then reports `token_unreadable`)."""

from __future__ import annotations

import base64

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings

from annotations.errors import Conflict


def _fernet() -> Fernet:
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=b"loupe.labelstudio", info=b"api-token").derive(
        settings.SECRET_KEY.encode())
    return Fernet(base64.urlsafe_b64encode(key))


def seal(token: str) -> str:
    return _fernet().encrypt(token.encode()).decode()


def unseal(sealed: str) -> str:
    try:
        return _fernet().decrypt(sealed.encode()).decode()
    except InvalidToken as exc:
        raise Conflict("The stored Label Studio token cannot be read (was LOUPE_SECRET_KEY changed?); enter it "
                       "again.", code="token_unreadable") from exc
