"""Each role sees its own app: signed in, a store manager, a bus operator, an annotator, a QA reviewer and an
admin each get the links of their job only; a page of another job opened by its address says "not available
for your role" and renders no form under it (the Devices page's Register form least of all). Each role's home
and project page lead with its work: at 1024×768 and at 1440×900 nothing overflows sideways and the primary
action is on screen without scrolling. An admin changes the QA sample rate and the pre-label threshold on the
project settings page, and the stored project and its audit event say so."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from annotations.models import AuditEvent, Project, Site
from tests.e2e.helpers import add_browser_member, sign_in
from tests.factories import make_device_kit, make_project

pytestmark = pytest.mark.django_db(transaction=True)

PAGES = ("work", "qa", "counts", "models", "drift", "devices", "routing", "webhooks", "members", "settings")
# The top bar per role (data-testid nav-<page>), in order: the job first.
NAV = {
    "manager": ["counts", "numbers"],
    "operator": ["work", "counts", "numbers"],
    "annotator": ["dashboard", "work"],
    "reviewer": ["dashboard", "qa", "counts", "models", "drift"],
    "admin": ["dashboard", "work", "qa", "counts", "numbers", "models", "drift", "devices", "routing", "webhooks",
              "members", "settings"],
}
PRIMARY = {"manager": "Counts", "operator": "Review disputed clips", "annotator": "Annotate",
           "reviewer": "QA review", "admin": "Annotate"}
NAMES = {"manager": "maria", "operator": "otto", "annotator": "alice", "reviewer": "bob", "admin": "dana"}
VIEWPORTS = ({"width": 1024, "height": 768}, {"width": 1440, "height": 900})


@pytest.fixture
def project(make_user) -> tuple[Project, dict[str, str]]:
    """A store project with a camera at Main St and one member of each role (managers and operators scoped to
    Main St); the passwords by role."""
    project = make_device_kit(make_project("store-counts"), site="Main St", camera="door-1").project
    main_st = Site.objects.get(project=project, name="Main St")
    passwords = {}
    for role, name in NAMES.items():
        scoped = {"sites": [main_st]} if role in ("manager", "operator") else {}
        passwords[role] = add_browser_member(make_user, project, name, role, **scoped)
    return project, passwords


def assert_fits_with_primary_visible(page: Page, primary_test_id: str) -> None:
    """No horizontal overflow, and the primary action on screen without scrolling."""
    page.evaluate("window.scrollTo(0, 0)")
    overflow = page.evaluate("document.scrollingElement.scrollWidth - window.innerWidth")
    assert overflow <= 0, f"the page is {overflow} px wider than the window"
    primary = page.get_by_test_id(primary_test_id)
    expect(primary).to_be_visible()
    expect(primary).to_be_in_viewport(ratio=1)
    assert primary.evaluate("e => e.classList.contains('primary')"), "the first action is not marked primary"


@pytest.mark.parametrize("role", list(NAMES))
def test_each_role_sees_only_its_links_and_a_plain_message_on_other_pages(page, project, role, screenshot):
    project, passwords = project
    p = project.pk
    sign_in(page, NAMES[role], passwords[role])
    home_links = page.get_by_test_id("project-list").locator(".button")
    expect(home_links.first).to_have_text(PRIMARY[role])
    screenshot(page, f"home-{role}")

    page.get_by_test_id(f"project-link-{p}").click()
    nav = page.get_by_test_id("project-nav").locator("a")
    expect(nav).to_have_count(len(NAV[role]))
    assert [a.get_attribute("data-testid") for a in nav.all()] == [f"nav-{name}" for name in NAV[role]]
    expect(page.get_by_test_id("start-work")).to_have_text(PRIMARY[role])
    if role in ("manager", "operator"):  # their sites' cameras, not the whole project's queue figures
        expect(page.get_by_test_id("your-cameras")).to_contain_text("Main St / door-1")
        expect(page.get_by_test_id("stat-pending")).to_have_count(0)
    else:
        expect(page.get_by_test_id("stat-pending")).to_be_visible()
    screenshot(page, f"project-page-{role}")

    forbidden = [name for name in PAGES if name not in NAV[role]]
    assert role != "admin" or forbidden == []
    for name in forbidden:
        page.goto(f"/#/projects/{p}/{name}")
        message = page.get_by_test_id("not-for-role")
        expect(message).to_be_visible()
        expect(message).to_contain_text("Not available for your role")
        expect(page.locator("#main form")).to_have_count(0)
        expect(page.get_by_test_id("error")).to_have_count(0)  # one clear message, no refused-request banners
    if "devices" in forbidden:
        expect(page.get_by_test_id("register-site")).to_have_count(0)
        screenshot(page, f"not-for-role-{role}")
        page.get_by_test_id("not-for-role-back").click()
        expect(page.get_by_test_id("start-work")).to_be_visible()


@pytest.mark.parametrize("role", list(NAMES))
def test_each_roles_home_and_project_page_fit_with_the_primary_action_on_screen(page, project, role):
    project, passwords = project
    sign_in(page, NAMES[role], passwords[role])
    first_work = NAV[role][1] if NAV[role][0] == "dashboard" else NAV[role][0]
    for viewport in VIEWPORTS:
        page.set_viewport_size(viewport)
        page.goto("/#/")
        assert_fits_with_primary_visible(page, f"home-work-{project.pk}-{first_work}")
        page.goto(f"/#/projects/{project.pk}")
        expect(page.get_by_test_id("start-work")).to_have_text(PRIMARY[role])
        assert_fits_with_primary_visible(page, "start-work")


def test_admin_changes_the_qa_sample_rate_and_prelabel_threshold_in_the_settings_page(page, project, screenshot):
    project, passwords = project
    sign_in(page, "dana", passwords["admin"], then=f"/#/projects/{project.pk}")
    page.get_by_test_id("nav-settings").click()
    rate = page.get_by_test_id("settings-qa_sample_rate")
    expect(rate).to_have_value("0.1")
    expect(page.get_by_test_id("settings-prelabel_threshold")).to_have_value("0.5")

    # A rate outside 0..1 is refused beside its field and nothing is stored.
    rate.fill("1.5")
    page.get_by_test_id("settings-save").click()
    expect(page.get_by_test_id("settings-qa_sample_rate-error")).to_contain_text("from 0 to 1")
    expect(rate).to_be_focused()
    project.refresh_from_db()
    assert project.qa_sample_rate == 0.1
    assert not AuditEvent.objects.filter(action="review_settings.configured").exists()

    rate.fill("0.25")
    page.get_by_test_id("settings-prelabel_threshold").fill("0.65")
    page.get_by_test_id("settings-save").click()
    expect(page.get_by_test_id("settings-saved")).to_have_text("Saved.")
    expect(page.get_by_test_id("settings-qa_sample_rate-error")).to_have_count(0)
    screenshot(page, "project-settings")

    project.refresh_from_db()
    assert (project.qa_sample_rate, project.prelabel_threshold, project.consensus_overlap) == (0.25, 0.65, 1)
    [event] = AuditEvent.objects.filter(project=project, action="review_settings.configured")
    assert event.actor.username == "dana" and event.object_id == str(project.pk)
    assert event.before == {"qa_sample_rate": 0.1, "prelabel_threshold": 0.5}
    assert event.after == {"qa_sample_rate": 0.25, "prelabel_threshold": 0.65}

    page.reload()  # what the page shows after a reload is what was stored
    expect(page.get_by_test_id("settings-qa_sample_rate")).to_have_value("0.25")
    expect(page.get_by_test_id("settings-prelabel_threshold")).to_have_value("0.65")
