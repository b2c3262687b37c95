"""Finding 2 of issue 14: a signed export link opens one export of one project, for one purpose, until it
expires, and only if this server signed it. Before, a server started without LOUPE_SECRET_KEY signed with the
key published in the repository, so anyone could mint a link to any project's dataset."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from django.contrib.auth.models import User
from django.contrib.auth.tokens import default_token_generator
from django.core import signing
from django.db import transaction
from django.test import override_settings
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode
from rest_framework.test import APIClient

from activelearning.datasets.download_links import signed_download_path
from activelearning.datasets.exports import run_export
from activelearning.datasets.models import ExportJob
from activelearning.training.threshold import freeze_dataset
from tests.factories import make_project
from tests.server import LiveServer

OLD_REPOSITORY_KEY = "loupe-insecure-development-key-do-not-use-in-production"
LINK_SALT = "loupe.signed-link.export-download"  # the purpose, as activelearning/datasets/download_links.py salts it


def done_export(slug: str) -> ExportJob:
    project = make_project(slug)
    with transaction.atomic():
        version = freeze_dataset(project_id=project.pk)
    job = ExportJob.objects.create(dataset_version=version, format="yolo", include_images=False)
    return run_export(job_id=job.pk)


def token_of(link: str) -> str:
    return parse_qs(urlsplit(link).query)["token"][0]


def fetch(export_id: int, token: str) -> tuple[int, str | None]:
    response = APIClient().get(f"/api/v1/exports/{export_id}/signed-file", {"token": token})
    code = response.json()["error"]["code"] if response["Content-Type"].startswith("application/json") else None
    return response.status_code, code


@pytest.fixture
def exports(db) -> tuple[ExportJob, ExportJob]:
    return done_export("store-counts"), done_export("bus-boarding")


def test_a_link_opens_its_own_export_without_an_account(exports) -> None:
    mine, _ = exports
    response = APIClient().get(signed_download_path(mine))
    assert response.status_code == 200 and b"".join(response.streaming_content)[:2] == b"PK"


def test_a_link_for_one_projects_export_cannot_fetch_another_projects(exports) -> None:
    mine, theirs = exports
    assert fetch(theirs.pk, token_of(signed_download_path(mine))) == (403, "bad_link")
    # Even signed with the server's key, a token naming the other project's export under this project is refused:
    # the project is checked against the export's own, not taken from the link.
    claims = {"purpose": "export-download", "export": theirs.pk, "project": mine.dataset_version.project_id,
              "expires": 2**40}
    assert fetch(theirs.pk, signing.dumps(claims, salt=LINK_SALT)) == (403, "bad_link")


def test_an_expired_link_is_refused(exports, settings) -> None:
    mine, _ = exports
    assert fetch(mine.pk, token_of(signed_download_path(mine, valid_for=0))) == (403, "link_expired")
    # Lowering the setting cuts short every link already handed out.
    link = signed_download_path(mine)
    settings.LOUPE_SIGNED_URL_SECONDS = -1
    assert fetch(mine.pk, token_of(link)) == (403, "link_expired")


def test_a_token_signed_for_another_purpose_is_refused(exports) -> None:
    mine, _ = exports
    user = User.objects.create_user("mo", email="mo@example.com", password="a-long-enough-passphrase")
    assert fetch(mine.pk, default_token_generator.make_token(user)) == (403, "bad_link")  # a password-set token
    claims = {"purpose": "export-download", "export": mine.pk, "project": mine.dataset_version.project_id,
              "expires": 2**40}
    assert fetch(mine.pk, signing.dumps(claims)) == (403, "bad_link")  # the right claims, another salt
    assert fetch(mine.pk, signing.dumps(claims, salt="loupe.signed-link.other")) == (403, "bad_link")
    # And the other way round: a download token does not set anyone's password.
    answer = APIClient().post("/api/v1/auth/password-set", {
        "uid": urlsafe_base64_encode(force_bytes(user.pk)), "token": token_of(signed_download_path(mine)),
        "new_password": "another-long-passphrase"}, format="json")
    assert answer.status_code == 400 and answer.json()["error"]["code"] in {"invalid", "invalid_link"}
    user.refresh_from_db()
    assert user.check_password("a-long-enough-passphrase")


@pytest.mark.django_db(transaction=True)
def test_a_server_started_without_a_key_refuses_links_signed_with_the_old_repository_key(
        postgres, _media_root: Path, tmp_path: Path, monkeypatch) -> None:
    job = done_export("store-counts")
    project_id = job.dataset_version.project_id
    forged = {  # what an outsider could mint with the key once published in the repository
        "old format": signing.TimestampSigner(key=OLD_REPOSITORY_KEY, salt="loupe.export-download").sign(str(job.pk)),
        "new format": signing.dumps({"purpose": "export-download", "export": job.pk, "project": project_id,
                                     "expires": 2**40}, key=OLD_REPOSITORY_KEY, salt=LINK_SALT),
    }
    for name in ("LOUPE_SECRET_KEY", "LOUPE_SECRET_KEY_FILE"):
        monkeypatch.delenv(name, raising=False)
    var_dir = tmp_path / "var"
    # Local development, the only way to start without a key: debug on, loopback hosts (the default).
    with LiveServer(_media_root, env={"LOUPE_DEBUG": "true", "LOUPE_VAR_DIR": str(var_dir)}) as server:
        for name, token in forged.items():
            answer = httpx.get(f"{server.url}/api/v1/exports/{job.pk}/signed-file", params={"token": token})
            assert answer.status_code == 403, f"{name}: {answer.status_code}"
        # The server does serve links it signed itself, with the key it generated for this install.
        with override_settings(SECRET_KEY=(var_dir / "secret_key").read_text().strip()):
            own = signed_download_path(job)
        answer = httpx.get(server.url + own)
        assert answer.status_code == 200 and answer.content[:2] == b"PK"
