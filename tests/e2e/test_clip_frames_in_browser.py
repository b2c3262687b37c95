"""A signed-in browser steps through clip frames served by the real server: what Chromium draws for frame n
is frame n of a sequential read (the bar of the numbered clip sits at x = 6n)."""

from __future__ import annotations

import hashlib

import httpx
import pytest
from playwright.sync_api import expect

from annotations.models import Membership
from tests.clips import FRAMES, WIDTH, numbered_clip
from tests.factories import make_device_kit, prediction_event

pytestmark = pytest.mark.django_db(transaction=True)

BAR_LEFT_JS = """async (url) => {
  const img = new Image();
  img.src = url;
  await img.decode();
  const canvas = document.createElement('canvas');
  canvas.width = img.naturalWidth; canvas.height = img.naturalHeight;
  const ctx = canvas.getContext('2d');
  ctx.drawImage(img, 0, 0);
  const row = ctx.getImageData(0, 40, canvas.width, 1).data;
  for (let x = 0; x < canvas.width; x++) if (row[4 * x] > 150) return [img.naturalWidth, x];
  return [img.naturalWidth, -1];
}"""


def test_signed_in_browser_sees_each_clip_frame_it_asks_for(page, app_server, make_user):
    kit = make_device_kit()
    body = numbered_clip()
    sha = hashlib.sha256(body).hexdigest()
    device = {"Authorization": f"Bearer {kit.token}"}
    httpx.put(f"{app_server.url}/api/v1/media/{sha}", content=body,
              headers={**device, "Content-Type": "video/mp4"}).raise_for_status()
    httpx.post(f"{app_server.url}/api/v1/events", json={"events": [prediction_event("e1", sha)]},
               headers=device).raise_for_status()
    Membership.objects.create(project=kit.project, user=make_user("alice", "pw-alice-123456"), role="annotator")

    page.goto("/")  # the shell (or the "not built" page) sets the CSRF cookie the app posts with
    login = page.evaluate("""async () => {
      const csrf = document.cookie.split('; ').find(c => c.startsWith('csrftoken=')).split('=')[1];
      const r = await fetch('/api/v1/auth/login', {method: 'POST', headers: {'Content-Type': 'application/json',
        'X-CSRFToken': csrf}, body: JSON.stringify({username: 'alice', password: 'pw-alice-123456'})});
      return r.status;
    }""")
    assert login == 200
    for n in (7, 0, 1, FRAMES - 1):
        width, left = page.evaluate(BAR_LEFT_JS, f"/api/v1/assets/{sha}/frames/{n}.jpg")
        assert width == WIDTH and abs(left - 6 * n) <= 1
    beyond = page.request.get(f"/api/v1/assets/{sha}/frames/{FRAMES}.jpg")
    assert beyond.status == 404 and beyond.json()["error"]["code"] == "frame_out_of_range"
    page.goto(f"/api/v1/assets/{sha}/thumb.jpg")
    expect(page.locator("img")).to_be_visible()
