"""An invited person follows the emailed link: the app's "Set your password" page shows the server's password
rules beside the field, takes a good password, and the person signs in and sees the project."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import expect

from annotations.models import AuditEvent
from tests.e2e.helpers import add_browser_member, sign_in
from tests.factories import make_project

pytestmark = pytest.mark.django_db(transaction=True)


def invite_through_the_api(page, project_id: int, username: str) -> None:
    """The admin's browser session posts the invitation (the Members page's form does the same call)."""
    csrf = next(c["value"] for c in page.context.cookies() if c["name"] == "csrftoken")
    response = page.request.post(f"/api/v1/projects/{project_id}/invitations", headers={"X-CSRFToken": csrf},
                                 data={"email": f"{username}@example.com", "username": username, "role": "annotator"})
    assert response.status == 201, response.text()


def emailed_link(mail_dir: Path) -> str:
    [message] = [p.read_text() for p in mail_dir.iterdir()]
    match = re.search(r"http://\S+/set-password\?uid=\S+&token=\S+", message)
    assert match, message
    return match.group(0)


def test_invited_person_sets_a_password_from_the_email_and_sees_the_project(browser, make_user, start_server,
                                                                            tmp_path):
    mail_dir = tmp_path / "mail"
    server = start_server(LOUPE_EMAIL_BACKEND="django.core.mail.backends.filebased.EmailBackend",
                          LOUPE_EMAIL_FILE_PATH=str(mail_dir))
    project = make_project("night-store")
    password = add_browser_member(make_user, project, "dana", "admin")
    admin = browser.new_context(base_url=server.url)
    admin.set_default_timeout(10_000)
    invitee = browser.new_context(base_url=server.url)
    invitee.set_default_timeout(10_000)
    try:
        admin_page = admin.new_page()
        sign_in(admin_page, "dana", password)
        invite_through_the_api(admin_page, project.pk, "mo")
        link = emailed_link(mail_dir)

        page = invitee.new_page()
        page.goto(link)
        expect(page.get_by_role("heading", name="Set your password")).to_be_visible()
        page.get_by_test_id("set-password-new").fill("12345678")
        page.get_by_test_id("set-password-confirm").fill("12345678")
        page.get_by_test_id("set-password-submit").click()
        expect(page.get_by_test_id("set-password-new-error")).to_contain_text("entirely numeric")
        expect(page.get_by_test_id("set-password-new")).to_be_focused()

        page.get_by_test_id("set-password-new").fill("lantern-orchard-42")
        page.get_by_test_id("set-password-confirm").fill("lantern-orchard-42")
        page.get_by_test_id("set-password-submit").click()
        expect(page.get_by_test_id("set-password-done")).to_be_visible()
        page.get_by_test_id("set-password-sign-in").click()
        page.get_by_test_id("login-username").fill("mo")
        page.get_by_test_id("login-password").fill("lantern-orchard-42")
        page.get_by_test_id("login-submit").click()
        expect(page.get_by_test_id(f"project-role-{project.pk}")).to_have_text("annotator")
        expect(page.get_by_test_id("project-list")).to_contain_text(project.name)
        assert AuditEvent.objects.filter(action="password.set").count() == 1
    finally:
        admin.close()
        invitee.close()
