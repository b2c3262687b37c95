"""Server-side request forgery: every URL a user can make the server call (a project's webhooks, the training
pipeline) is checked against LOUPE_OUTBOUND_ALLOWED_HOSTS when saved and again when called; a listed name is
resolved once, refused if it resolves inward (LOUPE_OUTBOUND_ALLOWED_NETWORKS aside) and called at that pinned
address; redirects are never followed. Real local HTTP receivers prove no request reached them."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.db import transaction
from rest_framework.test import APIClient

from activelearning.training.models import TrainerConfig, TrainingRun, TrainingStatus
from activelearning.training.runs import run_training
from activelearning.training.threshold import freeze_dataset
from activelearning.webhooks import services as webhooks
from activelearning.webhooks.models import DeliveryStatus, Webhook
from activelearning.webhooks.services import deliver_due, send_test
from annotations.models import Project
from tests.factories import add_member, make_project
from tests.http_receiver import receiving

SECRET = "s" * 40


@dataclass
class Receiver:
    """A local HTTP server counting the requests that reached it; answers `status` (+ `headers`)."""

    port: int = 0
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    received: list[bytes] = field(default_factory=list)


@pytest.fixture
def victim() -> Iterator[Receiver]:
    """Stands for an internal service on loopback that an attacker wants the server to call."""
    state = Receiver()

    def respond(headers: dict[str, str], body: bytes) -> tuple[int, dict[str, str]]:
        state.received.append(body)
        return state.status, state.headers

    with receiving(respond) as port:
        state.port = port
        yield state


@pytest.fixture
def relay() -> Iterator[Receiver]:
    """An allowed receiver that answers with a redirect (set `headers` to aim it)."""
    state = Receiver(status=302)

    def respond(headers: dict[str, str], body: bytes) -> tuple[int, dict[str, str]]:
        state.received.append(body)
        return state.status, state.headers

    with receiving(respond) as port:
        state.port = port
        yield state


@pytest.fixture(autouse=True)
def _no_background_kick(monkeypatch: pytest.MonkeyPatch) -> None:
    # Deliveries run in the test, with deliver_due, not in a background thread after commit.
    monkeypatch.setattr(webhooks, "kick_delivery", lambda: None)


@pytest.fixture
def project(db: None) -> Project:
    project = make_project("ssrf")
    add_member(project, "dana", "admin")
    return project


def admin() -> APIClient:
    client = APIClient()
    client.force_authenticate(User.objects.get(username="dana"))
    return client


def targets(port: int) -> list[str]:
    """URLs that name the loopback victim, the cloud metadata service or a private network, spelled every way
    an allow-list keyed on an address might miss."""
    return [
        f"http://127.0.0.1:{port}/hook",
        f"http://[::1]:{port}/hook",
        "http://169.254.169.254/latest/meta-data/iam/security-credentials/",
        "http://[fd00:ec2::254]/latest/meta-data/",
        f"http://10.0.0.5:{port}/hook",
        "http://192.168.1.1/admin",
        f"http://0.0.0.0:{port}/hook",
        f"http://0:{port}/hook",
        f"http://2130706433:{port}/hook",  # 127.0.0.1 as one decimal number
        f"http://0177.0.0.1:{port}/hook",  # octal
        f"http://0x7f.0.0.1:{port}/hook",  # hex
        f"http://127.1:{port}/hook",
        f"http://[::ffff:127.0.0.1]:{port}/hook",  # IPv6-mapped IPv4
        f"http://[::ffff:7f00:1]:{port}/hook",
        f"http://localhost:{port}/hook",  # names resolving to loopback (/etc/hosts)
        f"http://LOCALHOST:{port}/hook",
        f"http://localhost.:{port}/hook",
        f"http://vm:{port}/hook",
        f"http://hooks.example.com@127.0.0.1:{port}/hook",  # userinfo that looks like the allowed host
        f"http://127.0.0.1:{port}#@hooks.example.com/",
        f"http://127.0.0.1:{port}?@hooks.example.com/",
        f"https://hooks.example.com.127.0.0.1.nip.io:{port}/hook",
        f"http://hooks.example.com.:{port}/hook",  # the allowed name with a trailing dot: not the same host
        "file:///etc/passwd",
        f"gopher://127.0.0.1:{port}/_POST",
        f"ftp://127.0.0.1:{port}/",
        f"http:///127.0.0.1:{port}/",
        f"//127.0.0.1:{port}/hook",
    ]


@pytest.fixture(params=[True, False], ids=["debug", "production"])
def allow_only_the_receiver(request: Any, settings: Any) -> None:
    settings.LOUPE_OUTBOUND_ALLOWED_HOSTS = ["hooks.example.com"]
    settings.DEBUG = request.param


def test_webhook_urls_naming_internal_hosts_are_refused_when_saved(project: Project, victim: Receiver,
                                                                   allow_only_the_receiver: None) -> None:
    url = f"/api/v1/projects/{project.pk}/webhooks/"
    accepted = []
    for target in targets(victim.port):
        response = admin().post(url, {"url": target, "secret": SECRET, "events": ["item.accepted"]}, format="json")
        if response.status_code != 400:
            accepted.append((target, response.status_code))
        else:
            assert response.json()["error"]["code"] in ("url_not_allowed", "invalid_url", "invalid"), target
    assert not accepted
    assert not Webhook.objects.exists()
    webhook = Webhook.objects.create(project=project, url="https://hooks.example.com/in", secret=SECRET,
                                     events=["item.accepted"])
    for target in targets(victim.port):
        response = admin().patch(f"/api/v1/webhooks/{webhook.pk}", {"url": target}, format="json")
        assert response.status_code == 400, (target, response.status_code)
    webhook.refresh_from_db()
    assert webhook.url == "https://hooks.example.com/in"
    assert victim.received == []


def test_training_pipeline_urls_naming_internal_hosts_are_refused_when_saved(
        project: Project, victim: Receiver, allow_only_the_receiver: None) -> None:
    url = f"/api/v1/projects/{project.pk}/trainer"
    for target in targets(victim.port):
        response = admin().put(url, {"backend": "webhook", "webhook_url": target, "webhook_secret": SECRET},
                               format="json")
        assert response.status_code == 400, (target, response.status_code, response.content[:200])
    assert not TrainerConfig.objects.filter(webhook_url__gt="").exists()
    assert victim.received == []


def test_stored_webhooks_naming_internal_hosts_are_never_called(project: Project, victim: Receiver,
                                                                settings: Any) -> None:
    """A URL saved before the allow-list was narrowed (or written past the API) is checked again on each
    delivery: the attempt fails without a request."""
    settings.LOUPE_OUTBOUND_ALLOWED_HOSTS, settings.DEBUG = ["hooks.example.com"], True
    hooks = [Webhook.objects.create(project=project, url=target, secret=SECRET, events=["item.accepted"])
             for target in targets(victim.port)]
    deliveries = [send_test(webhook=hook) for hook in hooks]
    deliver_due()
    assert victim.received == []
    for delivery in deliveries:
        delivery.refresh_from_db()
        assert delivery.status == DeliveryStatus.FAILED and "not allowed" in delivery.last_error, delivery.webhook.url
    # The control: once its address is allowed, the victim is reachable, so the silence above was the check.
    settings.LOUPE_OUTBOUND_ALLOWED_HOSTS = ["127.0.0.1"]
    control = send_test(webhook=hooks[0])
    deliver_due()
    control.refresh_from_db()
    assert control.status == DeliveryStatus.DELIVERED and len(victim.received) == 1


def queued_run(project: Project) -> TrainingRun:
    with transaction.atomic():
        version = freeze_dataset(project_id=project.pk)
    return TrainingRun.objects.create(project=project, dataset_version=version, backend="webhook")


def test_a_stored_training_pipeline_naming_an_internal_host_is_never_called(project: Project, victim: Receiver,
                                                                            settings: Any) -> None:
    settings.LOUPE_OUTBOUND_ALLOWED_HOSTS, settings.DEBUG = ["hooks.example.com"], True
    config = TrainerConfig.objects.create(project=project, backend="webhook", webhook_secret=SECRET,
                                          webhook_url="https://hooks.example.com/train")
    for target in targets(victim.port):
        TrainerConfig.objects.filter(pk=config.pk).update(webhook_url=target)
        run = queued_run(project)
        run_training(run_id=run.pk)
        run.refresh_from_db()
        assert run.status == TrainingStatus.FAILED and "not allowed" in run.error, (target, run.error)
    assert victim.received == []


@pytest.mark.parametrize("hop", ["http://localhost:{port}/hook", "http://127.0.0.1:{port}/hook",
                                 "http://[::1]:{port}/hook", "http://169.254.169.254/latest/meta-data/"])
def test_an_allowed_receiver_redirecting_elsewhere_is_not_followed(project: Project, victim: Receiver,
                                                                   relay: Receiver, settings: Any, hop: str) -> None:
    """The allowed receiver (127.0.0.1, the relay) answers 302 to the victim, even to the allowed address
    itself: no redirect is followed, by the webhook outbox or the training dispatch."""
    settings.LOUPE_OUTBOUND_ALLOWED_HOSTS, settings.DEBUG = ["127.0.0.1"], True
    relay.headers = {"Location": hop.format(port=victim.port)}
    webhook = Webhook.objects.create(project=project, url=f"http://127.0.0.1:{relay.port}/in", secret=SECRET,
                                     events=["item.accepted"])
    delivery = send_test(webhook=webhook)
    deliver_due()
    delivery.refresh_from_db()
    assert delivery.last_status_code == 302 and delivery.status != DeliveryStatus.DELIVERED

    TrainerConfig.objects.create(project=project, backend="webhook", webhook_secret=SECRET,
                                 webhook_url=f"http://127.0.0.1:{relay.port}/train")
    run = queued_run(project)
    run_training(run_id=run.pk)
    run.refresh_from_db()
    assert run.status == TrainingStatus.FAILED and "302" in run.error
    assert len(relay.received) == 2
    assert victim.received == []


# --- where an allowed NAME resolves -------------------------------------------------------------------------


@pytest.fixture
def seen_hosts() -> Iterator[tuple[int, list[str]]]:
    """A local receiver recording the Host header of each request that reached it."""
    hosts: list[str] = []

    def respond(headers: dict[str, str], body: bytes) -> tuple[int, dict[str, str]]:
        hosts.append({k.lower(): v for k, v in headers.items()}.get("host", ""))
        return 200, {}

    with receiving(respond) as port:
        yield port, hosts


def test_an_allowed_name_that_resolves_inward_is_never_called(project: Project, seen_hosts: Any,
                                                             settings: Any) -> None:
    """`localhost` allowed by NAME (a careless list, or a name whose DNS was turned inward) resolves to
    127.0.0.1: nothing is sent, the webhook and the training dispatch both say why; once the operator allows
    that network the same URL is delivered, to the pinned address with the original Host header."""
    port, hosts = seen_hosts
    settings.LOUPE_OUTBOUND_ALLOWED_HOSTS, settings.DEBUG = ["localhost"], True
    settings.LOUPE_OUTBOUND_ALLOWED_NETWORKS = []
    webhook = Webhook.objects.create(project=project, url=f"http://localhost:{port}/hook", secret=SECRET,
                                     events=["item.accepted"])
    refused = send_test(webhook=webhook)
    deliver_due()
    refused.refresh_from_db()
    assert refused.status == DeliveryStatus.FAILED and "resolves to an address" in refused.last_error
    TrainerConfig.objects.create(project=project, backend="webhook", webhook_secret=SECRET,
                                 webhook_url=f"http://localhost:{port}/train")
    run = queued_run(project)
    run_training(run_id=run.pk)
    run.refresh_from_db()
    assert run.status == TrainingStatus.FAILED and "resolves to an address" in run.error
    assert hosts == []

    settings.LOUPE_OUTBOUND_ALLOWED_NETWORKS = ["127.0.0.0/8", "::1/128"]
    delivered = send_test(webhook=webhook)
    deliver_due()
    delivered.refresh_from_db()
    assert delivered.status == DeliveryStatus.DELIVERED
    assert hosts == [f"localhost:{port}"]


def test_the_name_is_resolved_once_and_the_request_goes_to_that_address(project: Project, seen_hosts: Any,
                                                                        settings: Any, monkeypatch: Any) -> None:
    """DNS rebinding: the first answer passes the check, a second lookup would answer elsewhere. The request
    goes to the address checked, and the name is looked up once per send."""
    import socket

    port, hosts = seen_hosts
    settings.LOUPE_OUTBOUND_ALLOWED_HOSTS, settings.DEBUG = ["hooks.example.com"], True
    settings.LOUPE_OUTBOUND_ALLOWED_NETWORKS = ["127.0.0.1/32"]
    answers = iter(["127.0.0.1", "10.9.9.9"])  # checked, then what a second lookup would have said
    lookups: list[str] = []
    real = socket.getaddrinfo

    def rebinding(host: str, *args: Any, **kwargs: Any) -> Any:
        if host != "hooks.example.com":
            return real(host, *args, **kwargs)
        lookups.append(host)
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (next(answers), port))]

    monkeypatch.setattr(socket, "getaddrinfo", rebinding)
    webhook = Webhook.objects.create(project=project, url=f"http://hooks.example.com:{port}/hook", secret=SECRET,
                                     events=["item.accepted"])
    delivery = send_test(webhook=webhook)
    deliver_due()
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.DELIVERED, delivery.last_error
    assert lookups == ["hooks.example.com"] and hosts == [f"hooks.example.com:{port}"]
