"""Signed, expiring image links for Label Studio's tasks: Label Studio's users' browsers load the images from
Loupe without a Loupe account, and each link opens one asset through one link until it expires, as the link's
agent (an annotator of the project) would see it, faces blurred where the project blurs them."""

from __future__ import annotations

from activelearning.labelstudio.models import LabelStudioLink
from activelearning.signed_links import read_claims, sign_claims
from annotations.errors import Forbidden, NotFound

_SALT = "loupe.signed-link.labelstudio-media"


def media_url(link: LabelStudioLink, sha256: str, *, expires: int) -> str:
    token = sign_claims({"link": link.pk, "sha": sha256}, salt=_SALT, expires=expires)
    return f"{link.loupe_url.rstrip('/')}/api/v1/labelstudio/links/{link.pk}/media/{sha256}?token={token}"


def link_for_media(*, link_id: int, sha256: str, token: str) -> LabelStudioLink:
    """The link a media token opens `sha256` through; 403 for a forged, altered or expired token, or one for
    another link or asset (looked up only after the signature holds)."""
    claims = read_claims(token, salt=_SALT, what="media link")
    if claims.get("link") != link_id or claims.get("sha") != sha256:
        raise Forbidden("This media link is not valid.", code="bad_link")
    link = LabelStudioLink.objects.select_related("agent").filter(pk=link_id).first()
    if link is None:
        raise NotFound("Not found.")
    return link
