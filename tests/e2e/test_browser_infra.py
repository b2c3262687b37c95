"""The e2e infrastructure drives pages the backend already serves, in a real Chromium against the real server."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.django_db(transaction=True)


def test_staff_user_logs_in_through_the_admin_form(page, make_user):
    make_user("root", "pw-root-123456", is_staff=True, is_superuser=True)
    page.goto("/admin/")
    expect(page).to_have_url("/admin/login/?next=/admin/")
    page.fill("#id_username", "root")
    page.fill("#id_password", "pw-root-123456")
    page.click("input[type=submit]")
    expect(page.locator("#content h1")).to_have_text("Site administration")
    expect(page.locator("#user-tools")).to_contain_text("root")


def test_wrong_password_stays_on_the_login_form(page, make_user):
    make_user("root", "pw-root-123456", is_staff=True, is_superuser=True)
    page.goto("/admin/login/")
    page.fill("#id_username", "root")
    page.fill("#id_password", "not-the-password")
    page.click("input[type=submit]")
    expect(page.locator(".errornote")).to_be_visible()


def test_api_docs_render_from_the_bundled_swagger_ui(page, app_server, screenshot):
    outside: list[str] = []
    page.on("request", lambda r: None if r.url.startswith(app_server.url) else outside.append(r.url))
    page.goto("/api/docs/")
    expect(page.locator(".swagger-ui .info .title")).to_contain_text("Loupe API")
    expect(page.locator(".opblock-summary-path").first).to_be_visible()
    assert outside == []  # no CDN: everything came from this server
    shot = screenshot(page, "api-docs")
    assert shot.read_bytes().startswith(b"\x89PNG")


def test_app_shell_runs_its_bundle_and_the_csp_blocks_inline_scripts(browser, start_server, tmp_path):
    dist = tmp_path / "dist"
    (dist / "assets").mkdir(parents=True)
    (dist / "assets" / "index-Ab12Cd34.js").write_text(
        "window.bundleRan = true; document.getElementById('app').textContent = 'bundle ran';")
    (dist / "index.html").write_text(
        '<!doctype html><html><head><title>Loupe</title>'
        '<script type="module" src="/static/app/assets/index-Ab12Cd34.js"></script></head>'
        '<body><div id="app"></div><script>window.inlineRan = true;</script></body></html>')
    server = start_server(LOUPE_FRONTEND_DIST=str(dist))
    context = browser.new_context(base_url=server.url)
    try:
        page = context.new_page()
        violations: list[str] = []
        page.on("console", lambda m: violations.append(m.text) if "Content Security Policy" in m.text else None)
        response = page.goto("/app/projects/1/queue")
        assert response is not None and response.status == 200
        expect(page.locator("#app")).to_have_text("bundle ran")
        assert page.evaluate("window.bundleRan") is True
        assert page.evaluate("window.inlineRan") is None
        assert violations  # the browser reported the blocked inline script
        assert any(c["name"] == "csrftoken" for c in context.cookies())
        bundle = page.request.get("/static/app/assets/index-Ab12Cd34.js")
        assert bundle.ok and "immutable" in bundle.headers["cache-control"]
    finally:
        context.close()
