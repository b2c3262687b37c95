"""Outbound requests go only to hosts an operator allowed (LOUPE_OUTBOUND_ALLOWED_HOSTS): Loupe never fetches
or posts to a URL a user typed without that check (webhooks, training pipelines)."""

from __future__ import annotations

from urllib.parse import urlsplit

from django.conf import settings

from annotations.errors import InvalidInput


def check_outbound_url(url: str) -> str:
    parts = urlsplit(url)
    allowed = {h.lower() for h in settings.LOUPE_OUTBOUND_ALLOWED_HOSTS}
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise InvalidInput("The URL must be http(s) with a host.", code="invalid_url")
    if parts.scheme == "http" and not settings.DEBUG and parts.hostname not in allowed:
        raise InvalidInput("Plain http is allowed only to explicitly allowed hosts.", code="url_not_allowed",
                           details={"host": parts.hostname})
    if parts.hostname.lower() not in allowed:
        raise InvalidInput("This host is not in LOUPE_OUTBOUND_ALLOWED_HOSTS.", code="url_not_allowed",
                           details={"host": parts.hostname})
    return url
