"""Which stored file answers a request for an asset, its frame n or its thumbnail.

Without blurring it is the original (the upload, or its cached frames). When a project of the caller's blurs
faces (`selectors.access_asset_media`), it is the blurred variant (`privacy`, cached by `frame_cache`), named by
a key of the algorithm version and the known heads on that frame, so a new prediction or a new algorithm gives
a new file and a new ETag. An admin's `original` request gets the original and is audited every time.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.core.files.storage import default_storage

from annotations import frame_cache, privacy
from annotations.errors import Forbidden, NotFound
from annotations.models import AssetKind
from annotations.selectors import AssetAccess, person_boxes
from annotations.services import record_original_view

User = AbstractBaseUser | AnonymousUser


@dataclass(frozen=True)
class MediaFile:
    name: str  # in default storage
    content_type: str
    etag: str | None  # None for an original of a blurred asset: sent with no-store, never revalidated


def still(*, user: User, access: AssetAccess, original: bool) -> MediaFile:
    """The asset itself. A clip whose faces are blurred is not re-encoded: its frames are the way to see it."""
    asset = access.asset
    if not access.blur:
        return MediaFile(str(asset.file.name), asset.content_type, f'"{asset.sha256}"')
    if original:
        _audit(user, access, view="asset", frame=None)
        return MediaFile(str(asset.file.name), asset.content_type, None)
    if asset.kind == AssetKind.CLIP:
        raise Forbidden("Faces are blurred in this clip: read its frames (/frames/{n}.jpg); only admins may ask "
                        "for the original clip (?original=1).", code="clip_blurred")
    frame_cache.ensure_frames(asset)
    return _blurred(access, 0)


def frame(*, user: User, access: AssetAccess, n: int, original: bool) -> MediaFile:
    """Frame `n` of a clip (frame 0 of an image is the image); 404 `frame_out_of_range` past the last."""
    asset = access.asset
    capacity = frame_cache.frame_capacity(asset)
    out_of_range = NotFound("The asset has no such frame.", code="frame_out_of_range",
                            details={"n": n, "frame_count": capacity})
    if n >= capacity:
        raise out_of_range
    name = frame_cache.frame_storage_name(asset.sha256, n)
    if not default_storage.exists(name) and n >= frame_cache.ensure_frames(asset):
        raise out_of_range  # the upload counted more frames than decode now: serve what is there
    if not access.blur:
        return MediaFile(name, "image/jpeg", f'"{asset.sha256}-f{n}"')
    if original:
        _audit(user, access, view="frame", frame=n)
        return MediaFile(name, "image/jpeg", None)
    return _blurred(access, n)


def thumb(*, user: User, access: AssetAccess, original: bool) -> MediaFile:
    """A small JPEG of the image or of a clip's first frame (blurred: made from the blurred frame 0)."""
    asset = access.asset
    name = frame_cache.thumb_storage_name(asset.sha256)
    if not default_storage.exists(name):
        frame_cache.ensure_frames(asset)
    if not access.blur:
        return MediaFile(name, "image/jpeg", f'"{asset.sha256}-thumb"')
    if original:
        _audit(user, access, view="thumb", frame=0)
        return MediaFile(name, "image/jpeg", None)
    heads, key = _variant(access, 0)
    frame_cache.ensure_blurred_frame(asset, 0, heads=heads, key=key)
    return MediaFile(frame_cache.blurred_thumb_storage_name(asset.sha256, key), "image/jpeg",
                     f'"{asset.sha256}-b{key}-thumb"')


def _blurred(access: AssetAccess, n: int) -> MediaFile:
    """Frame `n` blurred, made on first request. Precondition: the frame is in the cache."""
    asset = access.asset
    heads, key = _variant(access, n)
    frame_cache.ensure_blurred_frame(asset, n, heads=heads, key=key)
    return MediaFile(frame_cache.blurred_frame_storage_name(asset.sha256, key, n), "image/jpeg",
                     f'"{asset.sha256}-b{key}-f{n}"')


def _variant(access: AssetAccess, n: int) -> tuple[list[privacy.Box], str]:
    """The heads of the people the caller's admitting projects know on frame `n`, and the key of the blurred
    variant they give."""
    heads = privacy.head_boxes(person_boxes(asset=access.asset, n=n, project_ids=access.project_ids))
    return heads, privacy.variant_key(heads)


def _audit(user: User, access: AssetAccess, *, view: str, frame: int | None) -> None:
    if access.original_project_id is None:  # access_asset_media refuses these with 403 already
        raise Forbidden("Only an admin of a project that blurs faces may see the original.",
                        code="original_forbidden")
    record_original_view(user=user, asset=access.asset, project_id=access.original_project_id, view=view,
                         frame=frame)
