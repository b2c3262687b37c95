"""An admin sets the retraining threshold on the models page: a training pipeline on a host off the allow-list is
refused beside its field with nothing typed lost and nothing stored, the command backend says plainly that this
server allows no commands, and a new threshold saved from the keyboard is stored on the project and audited with
the values before and after. The form fits a 768×1024 tablet."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from activelearning.training.models import TrainerConfig
from annotations.models import AuditEvent, Project
from tests.e2e.helpers import add_browser_member, sign_in
from tests.factories import make_project

pytestmark = pytest.mark.django_db(transaction=True)


def test_admin_changes_the_retraining_threshold_in_the_browser(page, make_user, screenshot):
    project = make_project("retrain-store")
    assert project.retrain_threshold == 500
    password = add_browser_member(make_user, project, "dana", "admin")
    sign_in(page, "dana", password, then=f"/#/projects/{project.pk}/models")

    threshold = page.get_by_label("Retraining threshold (accepted corrections)")
    expect(threshold).to_have_value("500")
    expect(page.get_by_label("Margin to win by (mAP@0.5, 0–1)")).to_be_disabled()  # auto-promote is off

    # No trainer commands on this server: said where the command would be chosen.
    page.get_by_test_id("trainer-backend-command").check()
    expect(page.get_by_test_id("trainer-command-hint")).to_contain_text("This server allows no trainer commands")

    # A pipeline off the allow-list (none is allowed here): refused beside the URL, everything typed kept.
    page.get_by_test_id("trainer-backend-webhook").check()
    page.get_by_label("Pipeline URL").fill("https://ml.evil.example.net/train")
    page.get_by_test_id("trainer-webhook_secret-generate").click()
    secret = page.get_by_label("Signing secret").input_value()
    assert len(secret) == 64
    page.get_by_test_id("trainer-save").click()
    expect(page.get_by_test_id("trainer-webhook_url-error")).to_contain_text(
        "Loupe may not send to ml.evil.example.net")
    expect(page.get_by_label("Pipeline URL")).to_be_focused()
    expect(page.get_by_label("Pipeline URL")).to_have_value("https://ml.evil.example.net/train")
    expect(page.get_by_label("Signing secret")).to_have_value(secret)
    assert not AuditEvent.objects.filter(action="trainer.configured").exists()
    assert TrainerConfig.objects.get(project=project).backend == "reference"

    # Back to the reference trainer, and a new threshold saved from the keyboard.
    page.get_by_test_id("trainer-backend-reference").check()
    expect(page.get_by_label("Pipeline URL")).to_have_count(0)
    threshold.fill("750")
    threshold.press("Enter")
    expect(page.get_by_test_id("trainer-saved")).to_contain_text("Retraining now starts at 750 accepted corrections")
    expect(page.get_by_test_id("trainer-webhook_url-error")).to_have_count(0)

    project.refresh_from_db()
    assert project.retrain_threshold == 750
    assert TrainerConfig.objects.get(project=project).backend == "reference"  # the webhook was never saved
    [event] = AuditEvent.objects.filter(action="trainer.configured", project=project)
    assert event.actor is not None and event.actor.username == "dana"
    assert (event.before, event.after) == ({"threshold": 500}, {"threshold": 750})

    # The page reads the stored value back.
    page.reload()
    expect(page.get_by_label("Retraining threshold (accepted corrections)")).to_have_value("750")
    assert Project.objects.get(pk=project.pk).retrain_threshold == 750
    page.get_by_test_id("trainer-auto_promote").check()
    expect(page.get_by_label("Margin to win by (mAP@0.5, 0–1)")).to_be_enabled()
    page.get_by_test_id("retraining-settings").evaluate("(el) => el.scrollIntoView({ block: 'start' })")
    screenshot(page, "retraining-settings")

    # On a tablet in portrait: nothing cut off sideways, Save on screen.
    page.set_viewport_size({"width": 768, "height": 1024})
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0, f"the page is {overflow} px wider than the tablet"
    save = page.get_by_test_id("trainer-save")
    save.scroll_into_view_if_needed()
    box = save.bounding_box()
    assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 768
