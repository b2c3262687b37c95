"""Signed, expiring image links for Label Studio's tasks: Label Studio's users' browsers load the images from
Loupe without a Loupe account, and each link opens one asset through one link until it expires, as the link's
agent (an annotator of the project) would see it, faces blurred where the project blurs them."""

from __future__ import annotations

import time

from django.core import signing

from activelearning.labelstudio.models import LabelStudioLink
from annotations.errors import Forbidden, NotFound

_SALT = "loupe.signed-link.labelstudio-media"


def media_url(link: LabelStudioLink, sha256: str, *, expires: int) -> str:
    claims = {"link": link.pk, "sha": sha256, "expires": expires}
    return (f"{link.loupe_url.rstrip('/')}/api/v1/labelstudio/links/{link.pk}/media/{sha256}"
            f"?token={signing.dumps(claims, salt=_SALT, compress=True)}")


def link_for_media(*, link_id: int, sha256: str, token: str) -> LabelStudioLink:
    """The link a media token opens `sha256` through; 403 for a forged, altered or expired token, or one for
    another link or asset (looked up only after the signature holds)."""
    try:
        claims = signing.loads(token, salt=_SALT)
    except signing.BadSignature as exc:
        raise Forbidden("This media link is not valid.", code="bad_link") from exc
    if not isinstance(claims, dict) or claims.get("link") != link_id or claims.get("sha") != sha256:
        raise Forbidden("This media link is not valid.", code="bad_link")
    expires = claims.get("expires")
    if not isinstance(expires, int) or time.time() >= expires:
        raise Forbidden("This media link has expired.", code="link_expired")
    link = LabelStudioLink.objects.select_related("agent").filter(pk=link_id).first()
    if link is None:
        raise NotFound("Not found.")
    return link
