"""Signed download links: an export fetched by someone without an account (an external training pipeline).

A link carries its purpose, its export and that export's project, and an expiry, signed with the server's key
(django.core.signing, salted by the purpose). It opens that one export of that one project until it expires and
nothing else: not another export, not a password link, not a token made with any other key.
"""

from __future__ import annotations

import time

from django.conf import settings

from activelearning.datasets.models import ExportJob
from activelearning.signed_links import read_claims, sign_claims
from annotations.errors import Forbidden, NotFound

PURPOSE = "export-download"
_SALT = f"loupe.signed-link.{PURPOSE}"


def signed_download_path(job: ExportJob, *, valid_for: int | None = None) -> str:
    """The link to `job`'s archive, valid `valid_for` seconds (default LOUPE_SIGNED_URL_SECONDS)."""
    seconds = settings.LOUPE_SIGNED_URL_SECONDS if valid_for is None else valid_for
    claims = {"purpose": PURPOSE, "export": job.pk, "project": job.dataset_version.project_id}
    return f"/api/v1/exports/{job.pk}/signed-file?token={sign_claims(claims, salt=_SALT, expires=int(time.time()) + seconds)}"


def export_for_download_token(*, export_id: int, token: str) -> ExportJob:
    """The export a link opens. Forbidden (403) for a token that is forged, altered, expired, or for another
    purpose, export or project; the export is looked up only after the signature holds, so an outsider cannot
    tell which ids exist."""
    # LOUPE_SIGNED_URL_SECONDS also caps every outstanding link: lowering it cuts them all short.
    claims = read_claims(token, salt=_SALT, what="download link", max_age=settings.LOUPE_SIGNED_URL_SECONDS)
    if claims.get("purpose") != PURPOSE or claims.get("export") != export_id:
        raise Forbidden("This download link is not valid.", code="bad_link")
    job = ExportJob.objects.select_related("dataset_version").filter(pk=export_id).first()
    if job is None:
        raise NotFound("Not found.")
    if job.dataset_version.project_id != claims.get("project"):
        raise Forbidden("This download link is not valid.", code="bad_link")
    return job
