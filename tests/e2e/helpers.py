"""Shared steps of the end-to-end flows: seed through the device API, sign in through the form, and map
image pixels to the screen the way the editor does (frontend/src/editor/geometry.ts, `fitTransform`)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

import httpx
from playwright.sync_api import Browser, BrowserContext, Page, expect

from annotations.models import Membership, Project
from reviewer.models import ReviewItem
from tests.factories import DeviceKit

FIT_MARGIN = 0.98  # geometry.ts fitTransform: the whole image with a 2 % margin


def upload(server_url: str, kit: DeviceKit, body: bytes, content_type: str = "image/jpeg") -> str:
    """PUT the media as the device does; return its sha256."""
    sha = hashlib.sha256(body).hexdigest()
    httpx.put(f"{server_url}/api/v1/media/{sha}", content=body, timeout=30,
              headers={"Authorization": f"Bearer {kit.token}", "Content-Type": content_type}).raise_for_status()
    return sha


def post_events(server_url: str, kit: DeviceKit, events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """POST an event batch as the device does; every event must be created."""
    response = httpx.post(f"{server_url}/api/v1/events", json={"events": events}, timeout=30,
                          headers={"Authorization": f"Bearer {kit.token}"})
    response.raise_for_status()
    results: list[dict[str, Any]] = response.json()["results"]
    assert all(r["status"] == "created" for r in results), results
    return results


def queued_item(result: dict[str, Any]) -> ReviewItem:
    assert result.get("review_item"), f"the event was not queued for review: {result}"
    return ReviewItem.objects.get(pk=result["review_item"])


def add_browser_member(make_user: Any, project: Project, username: str, role: str, **membership: Any) -> str:
    """A member who can sign in through the browser; returns the password."""
    password = f"pw-{username}-123456"
    user = make_user(username, password)
    sites = membership.pop("sites", None)
    m = Membership.objects.create(project=project, user=user, role=role, **membership)
    if sites:
        m.sites.set(sites)
    return password


def sign_in(page: Page, username: str, password: str, then: str = "/") -> None:
    """Sign in through the login form, as a person does, then open `then` (a path with a hash route): the app
    sends a signed-out visitor to #/login and a fresh sign-in to the home page."""
    page.goto("/#/login")
    page.get_by_test_id("login-username").fill(username)
    page.get_by_test_id("login-password").fill(password)
    page.get_by_test_id("login-submit").click()
    expect(page.get_by_test_id("project-list")).to_be_visible()
    if then != "/":
        page.goto(then)


def second_browser(browser: Browser, base_url: str) -> BrowserContext:
    """Another person's browser (own cookies and socket), sized like the `context` fixture's; close it after."""
    context = browser.new_context(base_url=base_url, viewport={"width": 1280, "height": 720})
    context.set_default_timeout(10_000)
    return context


@dataclass(frozen=True)
class ScreenTransform:
    """screen = image × scale + (left + tx, top + ty), in page CSS pixels."""

    scale: float
    left: float
    top: float

    def to_screen(self, x: float, y: float) -> tuple[float, float]:
        return self.left + x * self.scale, self.top + y * self.scale


def fitted_transform(page: Page, test_id: str, image_w: int, image_h: int) -> ScreenTransform:
    """The editor's fit transform for the canvas `test_id`, once the canvas has taken its laid-out size (the
    render that sizes the canvas is the one that fits the view to it)."""
    canvas = page.get_by_test_id(test_id)
    expect(canvas).to_be_visible()
    page.wait_for_function(
        """(id) => { const c = document.querySelector(`[data-testid=${id}]`); const r = c.getBoundingClientRect();
                     const dpr = window.devicePixelRatio || 1;
                     return r.width > 0 && c.width === Math.max(1, Math.round(r.width * dpr)); }""",
        arg=test_id)
    box = canvas.bounding_box()
    assert box is not None
    scale = min(box["width"] / image_w, box["height"] / image_h) * FIT_MARGIN
    return ScreenTransform(scale=scale, left=box["x"] + (box["width"] - image_w * scale) / 2,
                           top=box["y"] + (box["height"] - image_h * scale) / 2)


DIGEST_JS = """(id) => { const base = document.querySelector(`[data-testid=${id}]`).previousElementSibling;
  const d = base.getContext('2d').getImageData(0, 0, base.width, base.height).data;
  let h = 0; for (let i = 0; i < d.length; i += 4) h = (Math.imul(h, 31) + d[i] + 7 * d[i + 1] + 13 * d[i + 2]) >>> 0;
  return String(h); }"""


def canvas_digest(page: Page, test_id: str) -> str:
    """A fingerprint of what the base layer under the overlay canvas `test_id` shows (image and boxes)."""
    return str(page.evaluate(DIGEST_JS, test_id))


def wait_drawn_frame(page: Page, frame_index: int) -> str:
    """Wait until the base layer last drew clip frame `frame_index` (the app's marks, src/perf.ts: the frame
    counter moves at once, the picture when its JPEG has loaded); return the canvas fingerprint then."""
    page.wait_for_function(
        """(n) => { const draws = window.__loupePerf?.baseDraws || [];
                    const last = draws[draws.length - 1];
                    return !!last && last.src.endsWith(`/frames/${n}.jpg`); }""", arg=frame_index)
    return canvas_digest(page, "clip-canvas")
