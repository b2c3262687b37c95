"""An admin adds a webhook on the webhooks page: a host off the allow-list is refused beside the URL field with
nothing typed lost, an allow-listed local receiver is accepted, "Send test" (pressed from the keyboard) delivers a
ping signed with the admin's secret, and the delivery log shows it delivered. The page fits a 768×1024 tablet."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
from collections.abc import Iterator

import pytest
from playwright.sync_api import expect

from activelearning.webhooks.models import Webhook, WebhookDelivery
from tests.e2e.helpers import add_browser_member, sign_in
from tests.factories import make_project
from tests.http_receiver import receiving

pytestmark = pytest.mark.django_db(transaction=True)


class Received:
    """What the receiver was sent: (headers, body) per request."""

    def __init__(self) -> None:
        self.requests: list[tuple[dict[str, str], bytes]] = []
        self.arrived = threading.Event()


@pytest.fixture
def receiver() -> Iterator[tuple[str, Received]]:
    """A customer's endpoint: a real local HTTP server that records each POST and answers 200."""
    received = Received()

    def respond(headers: dict[str, str], body: bytes) -> int:
        received.requests.append((headers, body))
        received.arrived.set()
        return 200

    with receiving(respond) as port:
        yield f"http://127.0.0.1:{port}/hooks/loupe", received


@pytest.fixture(scope="session")
def webhook_server(start_server):
    """The app allowed to send to 127.0.0.1, delivering in a background thread right after the commit (embedded
    mode: no worker process in the test)."""
    return start_server(LOUPE_OUTBOUND_ALLOWED_HOSTS="127.0.0.1", LOUPE_CELERY_EAGER="true")


def test_admin_adds_a_webhook_sends_a_test_and_sees_it_delivered(browser, webhook_server, receiver, make_user,
                                                                  screenshot):
    url, received = receiver
    project = make_project("webhooks-store")
    password = add_browser_member(make_user, project, "dana", "admin")
    context = browser.new_context(base_url=webhook_server.url, viewport={"width": 1280, "height": 720})
    context.set_default_timeout(10_000)
    try:
        page = context.new_page()
        page.on("dialog", lambda dialog: dialog.accept())
        sign_in(page, "dana", password, then=f"/#/projects/{project.pk}")
        page.get_by_test_id("nav-webhooks").click()
        expect(page.get_by_role("heading", name="Webhooks", exact=True)).to_be_visible()

        # Off the allow-list: refused beside the field, in words, and the form keeps what was typed.
        page.get_by_label("Receiver URL").fill("https://hooks.evil.example.net/x")
        page.get_by_test_id("webhook-new-event-item.accepted").check()
        page.get_by_test_id("webhook-new-event-model.promoted").check()
        page.get_by_test_id("webhook-new-secret-generate").click()
        secret = page.get_by_label("Signing secret").input_value()
        assert len(secret) == 64
        page.get_by_test_id("webhook-new-save").click()
        expect(page.get_by_test_id("webhook-new-url-error")).to_contain_text(
            "Loupe may not send to hooks.evil.example.net")
        expect(page.get_by_label("Receiver URL")).to_be_focused()
        expect(page.get_by_label("Receiver URL")).to_have_attribute("aria-invalid", "true")
        expect(page.get_by_label("Signing secret")).to_have_value(secret)
        expect(page.get_by_test_id("webhook-new-event-model.promoted")).to_be_checked()
        assert not Webhook.objects.exists()

        # The allow-listed local receiver.
        page.get_by_label("Receiver URL").fill(url)
        page.get_by_label("Receiver URL").press("Enter")  # submits the form from the keyboard
        expect(page.get_by_test_id("webhook-list")).to_contain_text(url)
        webhook = Webhook.objects.get()
        assert webhook.secret == secret and webhook.events == ["item.accepted", "model.promoted"]
        expect(page.get_by_test_id(f"webhook-{webhook.pk}")).to_contain_text("none yet")

        send_test = page.get_by_test_id(f"webhook-test-{webhook.pk}")
        send_test.focus()
        page.keyboard.press("Enter")
        delivery_status = page.locator("[data-testid^=delivery-status-]")
        expect(delivery_status).to_have_text("delivered")
        expect(page.get_by_test_id(f"deliveries-{webhook.pk}-table")).to_contain_text("200")
        expect(page.get_by_test_id(f"webhook-last-{webhook.pk}")).to_contain_text("delivered · 200")

        assert received.arrived.wait(timeout=5)
        [(headers, body)] = received.requests
        expected = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
        assert hmac.compare_digest(headers["X-Loupe-Signature"], expected)
        sent = json.loads(body)
        assert headers["X-Loupe-Event"] == "ping" and sent["event"] == "ping"
        assert sent["data"] == {"webhook": webhook.pk} and sent["project"] == project.pk
        delivery = WebhookDelivery.objects.get()
        assert (delivery.status, delivery.attempts, delivery.last_status_code) == ("delivered", 1, 200)
        assert headers["X-Loupe-Delivery"] == str(delivery.event_id)
        page.evaluate("window.scrollTo(0, 0)")
        screenshot(page, "webhooks")

        # On a tablet in portrait: nothing cut off sideways, the actions and the log on screen.
        page.set_viewport_size({"width": 768, "height": 1024})
        overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0, f"the page is {overflow} px wider than the tablet"
        button = send_test.bounding_box()
        assert button is not None and button["x"] >= 0 and button["x"] + button["width"] <= 768
        expect(page.get_by_test_id(f"deliveries-{webhook.pk}")).to_be_visible()
    finally:
        context.close()
