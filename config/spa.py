"""The browser app's shell: `frontend/dist/index.html` for `/` and `/app/<route>` (routing is client-side).

The shell sets the CSRF cookie, so the app can send session writes with `X-CSRFToken`, and a strict
Content-Security-Policy: scripts only from this origin (the build has no inline scripts), and network access
only back to this origin, WebSockets included.
"""

from __future__ import annotations

from pathlib import Path

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import ensure_csrf_cookie
from django.views.decorators.http import require_safe

MISSING_BUILD = b"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Loupe: app not built</title></head>
<body><h1>The browser app is not built</h1>
<p>Run <code>make frontend</code> (or <code>make run</code>) to build <code>frontend/dist</code>, then reload.
The <a href="/admin/">admin</a> and the <a href="/api/docs/">API docs</a> work meanwhile.</p></body></html>
"""


def content_security_policy(request: HttpRequest) -> str:
    # get_host() is validated against ALLOWED_HOSTS, so it is safe to echo into the header.
    host = request.get_host()
    return "; ".join([
        "default-src 'self'",
        "script-src 'self'",
        # Canvas and framework code set element styles; style injection cannot run code, scripts can't.
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data: blob:",
        "font-src 'self'",
        f"connect-src 'self' ws://{host} wss://{host}",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ])


@require_safe
@ensure_csrf_cookie
def app_shell(request: HttpRequest, route: str | None = None) -> HttpResponse:
    """Serve the SPA's index.html, or a 503 page that says how to build it."""
    try:
        html, status = (Path(settings.LOUPE_FRONTEND_DIST) / "index.html").read_bytes(), 200
    except FileNotFoundError:
        html, status = MISSING_BUILD, 503
    response = HttpResponse(html, status=status, content_type="text/html; charset=utf-8")
    response["Content-Security-Policy"] = content_security_policy(request)
    # The shell names the current build's hashed bundles: revalidate it, cache the bundles forever.
    response["Cache-Control"] = "no-cache"
    return response
