"""An admin invites someone from the Members page; the invited person follows the emailed link: the app's "Set your password" page shows the server's password
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


def emailed_link(mail_dir: Path) -> str:
    [message] = [p.read_text() for p in mail_dir.iterdir()]
    match = re.search(r"http://\S+/set-password\?uid=\S+&token=\S+", message)
    assert match, message
    return match.group(0)


def test_invited_person_sets_a_password_from_the_email_and_sees_the_project(browser, make_user, start_server,
                                                                            tmp_path, screenshot):
    mail_dir = tmp_path / "mail"
    server = start_server(LOUPE_EMAIL_BACKEND="django.core.mail.backends.filebased.EmailBackend",
                          LOUPE_EMAIL_FILE_PATH=str(mail_dir))
    project = make_project("night-store")
    password = add_browser_member(make_user, project, "dana", "admin")
    admin = browser.new_context(base_url=server.url, viewport={"width": 1280, "height": 720})
    admin.set_default_timeout(10_000)
    invitee = browser.new_context(base_url=server.url)
    invitee.set_default_timeout(10_000)
    try:
        admin_page = admin.new_page()
        sign_in(admin_page, "dana", password, then=f"/#/projects/{project.pk}/members")
        admin_page.get_by_test_id("invite-username").fill("mo")
        admin_page.get_by_test_id("invite-email").fill("mo@example.com")
        admin_page.get_by_test_id("invite-role").select_option("annotator")
        admin_page.get_by_test_id("invite-submit").click()
        expect(admin_page.get_by_test_id("members-notice")).to_contain_text("Invited mo")
        expect(admin_page.get_by_test_id("member-list")).to_contain_text("invited, no password yet")
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
        admin_page.reload()
        expect(admin_page.get_by_test_id("member-list")).to_contain_text("mo@example.com")
        expect(admin_page.get_by_test_id("member-list")).not_to_contain_text("invited, no password yet")
        screenshot(admin_page, "members")
    finally:
        admin.close()
        invitee.close()
