"""The one way Loupe talks to a linked Label Studio: label-studio-sdk over an httpx client pinned to the address
the allow-list let through (activelearning.outbound)."""

from __future__ import annotations

from django.conf import settings
from label_studio_sdk import LabelStudio

from activelearning.labelstudio.models import LabelStudioLink
from activelearning.labelstudio.tokens import unseal
from activelearning.outbound import pinned_client


def connect(url: str, token: str) -> LabelStudio:
    """A client for `url` with `token`; InvalidInput when the URL is not allowed (outbound allow-list)."""
    http = pinned_client(url, timeout=settings.LOUPE_LABELSTUDIO_TIMEOUT_SECONDS)
    # No retries inside the SDK (it sleeps between them): a failure is the link's to record and back off from.
    return LabelStudio(base_url=url.rstrip("/"), api_key=token, httpx_client=http, max_retries=0)


def for_link(link: LabelStudioLink) -> LabelStudio:
    return connect(link.url, unseal(link.token_encrypted))
