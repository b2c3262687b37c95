"""Schema-driven fuzzing of the whole HTTP API: every operation of /api/v1/schema/, fed valid and invalid input
by schemathesis, answers no 5xx and only what the schema documents (status, content type, body, headers).

It runs in-process (the Django WSGI app, no server) against the seeded demo (`seed_demo`, small), as the demo's
project admin on a browser session with its CSRF token, and as a device with its bearer token on the device
endpoints. Path ids are either generated or, as often, ids of real objects, so the checks reach past the 404.
Each example runs in a savepoint that is rolled back: no example sees another's writes. Hypothesis is
derandomized and the example budget is fixed, so a run is repeatable (the same ~810 requests each time) and
bounded: 12 examples per operation, about 40-50 s per database on two cores (30 found nothing more in ~2.5 min).
On PostgreSQL here, on SQLite through tests/test_sqlite_mode.py.
"""

from __future__ import annotations

import io
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
import schemathesis
from django.contrib.auth.models import User
from django.core.management import call_command
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections, transaction
from django.test import Client
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from schemathesis.core.failures import FailureGroup

from activelearning.datasets.models import DatasetVersion, ExportJob
from activelearning.registry.models import ModelVersion
from activelearning.training.models import TrainingRun
from activelearning.webhooks.models import Webhook
from annotations.models import Asset, Camera, Device, Membership, Project
from annotations.services import create_device
from reviewer.models import ReviewItem

pytestmark = pytest.mark.django_db

EXAMPLES_PER_OPERATION = 12
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance,
          response_headers_conformance]
RATE_LIMITED = 429  # a limit reached by the fuzzer's pace is the limit working, not a failure


@contextmanager
def connection_kept() -> Iterator[None]:
    """The WSGI app closes the database connection after each request; like Django's test client, keep it,
    or the test's transaction (and the seeded data) would go with it. (Django's Client reconnects the signal
    after each of its requests, so this wraps the fuzzing only.)"""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        yield
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


def seed() -> dict[str, Any]:
    """The demo, plus one of each object the demo does not make; the ids the fuzzer substitutes into paths."""
    call_command("seed_demo", frames=2, clips=1, stdout=io.StringIO())
    project = Project.objects.get(slug="store-counts")
    device = create_device(project=project, site_name="Fuzz site", camera_names=["fuzz-cam"])
    dataset = DatasetVersion.objects.create(project=project, number=99, content_hash="0" * 64)
    export = ExportJob.objects.create(dataset_version=dataset, format="coco")
    webhook = Webhook.objects.create(project=project, url="https://hooks.example.invalid/loupe", secret="s" * 32,
                                     events=["item.accepted"])
    run = TrainingRun.objects.create(project=project, dataset_version=dataset)
    ids = {
        "project_id": project.pk,
        "item_id": ReviewItem.objects.filter(project=project).values_list("pk", flat=True).first(),
        "camera_id": Camera.objects.filter(site__project=project).values_list("pk", flat=True).first(),
        "dataset_id": dataset.pk,
        "device_id": Device.objects.filter(project=project).values_list("pk", flat=True).first(),
        "export_id": export.pk,
        "model_id": ModelVersion.objects.filter(project=project).values_list("pk", flat=True).first(),
        "membership_id": Membership.objects.filter(project=project).values_list("pk", flat=True).first(),
        "run_id": run.pk,
        "webhook_id": webhook.pk,
        "sha256": Asset.objects.filter(predictions__project=project).values_list("sha256", flat=True).first(),
    }
    assert None not in ids.values(), ids
    return {"ids": ids, "device_token": device.token}


def admin_session() -> tuple[dict[str, str], Any]:
    """The demo admin's session and CSRF cookies, as the browser holds them, and the schema it is served."""
    browser = Client()
    browser.force_login(User.objects.get(username="admin"))
    assert browser.get("/api/v1/auth/me").status_code == 200  # sets the CSRF cookie
    schema = browser.get("/api/v1/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert schema.status_code == 200
    return {name: browser.cookies[name].value for name in ("sessionid", "csrftoken")}, schema.json()


def device_only(operation: Any) -> bool:
    schemes = [name for requirement in operation.definition.raw.get("security") or [] for name in requirement]
    return bool(schemes) and all(name == "deviceToken" for name in schemes)


def test_every_operation_answers_without_5xx_and_as_its_schema_says() -> None:
    started = time.monotonic()
    seeded = seed()
    cookies, raw_schema = admin_session()
    schema = schemathesis.openapi.from_dict(raw_schema, config=schemathesis.Config())
    schema.app = get_wsgi_application()
    # Auth is ours (below), not generated: a fuzzed cookie or token only measures the 401 path.
    schema.config.generation.update(deterministic=True, with_security_parameters=False)
    ids = seeded["ids"]

    @schema.hook
    def flatmap_path_parameters(ctx: Any, path_parameters: dict[str, Any] | None) -> Any:
        if not path_parameters:
            return st.just(path_parameters)
        real = {**path_parameters, **{name: ids[name] for name in path_parameters if name in ids}}
        return st.sampled_from([path_parameters, real])

    failures: dict[tuple[str, int, str], str] = {}
    seconds_per_operation: dict[str, float] = {}
    statuses: Counter[int] = Counter()
    with connection_kept():
        for result in schema.get_all_operations():
            operation = result.ok()
            if device_only(operation):
                headers, jar = {"Authorization": f"Bearer {seeded['device_token']}"}, {}
            else:
                headers, jar = {"X-CSRFToken": cookies["csrftoken"]}, cookies
            operation_started = time.monotonic()
            fuzz(operation, headers, jar, failures, statuses)
            seconds_per_operation[operation.label] = time.monotonic() - operation_started
    seconds = time.monotonic() - started
    slowest = sorted(seconds_per_operation.items(), key=lambda kv: -kv[1])[:5]
    print(f"schemathesis: {len(seconds_per_operation)} operations in {seconds:.1f} s (seeding "  # noqa: T201
          f"{seconds - sum(seconds_per_operation.values()):.1f} s); slowest: "
          + ", ".join(f"{label} {t:.1f} s" for label, t in slowest)
          + f"; {sum(statuses.values())} requests by status: {dict(sorted(statuses.items()))}")
    assert sum(n for status, n in statuses.items() if 200 <= status < 300) > len(seconds_per_operation), statuses
    assert not failures, "\n\n".join(f"{label} → {status}\n{report}"
                                     for (label, status, _), report in failures.items())


def fuzz(operation: Any, headers: dict[str, str], cookies: dict[str, str],
         failures: dict[tuple[str, int, str], str], statuses: Counter[int]) -> None:
    """Run one operation's examples; keep the first report of each distinct (status, failure) it shows."""
    strategy = st.one_of([operation.as_strategy(generation_mode=mode) for mode in GenerationMode])

    @settings(max_examples=EXAMPLES_PER_OPERATION, derandomize=True, database=None, deadline=None,
              suppress_health_check=list(HealthCheck), phases=[Phase.explicit, Phase.generate])
    @given(case=strategy)
    def examples(case: Any) -> None:
        with transaction.atomic():
            response = case.call(headers=headers, cookies=cookies)
            transaction.set_rollback(True)
        statuses[response.status_code] += 1
        if response.status_code == RATE_LIMITED:
            return
        try:
            case.validate_response(response, checks=CHECKS, headers=headers)
        except FailureGroup as exc:
            report = str(exc)
            failures.setdefault((operation.label, response.status_code, report.splitlines()[0]), report[:2000])

    examples()
