"""A real Label Studio server (PyPI `label-studio`, in its own virtualenv from `make labelstudio`), started once
per test session on SQLite in a folder of its own, with a legacy API token (the `label_studio` fixture, made
visible to every test by tests/conftest.py; `start_label_studio` for the bench). It never skips: without it the
tests fail, saying how to install it."""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from label_studio_sdk import LabelStudio

from tests.server import ROOT, free_port

LS_BIN = Path(os.environ.get("LOUPE_LABEL_STUDIO_BIN", ROOT / ".venv-labelstudio" / "bin" / "label-studio"))
LS_TOKEN = "0a1b2c3d4e5f60718293a4b5c6d7e8f901234567"
LS_EMAIL = "annotator@labelstudio.example"


@dataclass
class LabelStudioServer:
    url: str
    token: str
    email: str

    def client(self) -> LabelStudio:
        return LabelStudio(base_url=self.url, api_key=self.token)


class LabelStudioDidNotStart(RuntimeError):
    pass


@contextmanager
def start_label_studio(data: Path) -> Iterator[LabelStudioServer]:
    """Label Studio on a free loopback port with its data in `data`; stopped on leaving."""
    if not LS_BIN.exists():
        raise LabelStudioDidNotStart(f"Label Studio is not installed at {LS_BIN}: run `make labelstudio`")
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO", "DATABASE", "REDIS", "LOUPE"))}
    # Loupe runs on this machine's loopback in the tests: Label Studio's SSRF guard would refuse its webhook.
    env.update(SSRF_PROTECTION_ENABLED="false", LABEL_STUDIO_BASE_DATA_DIR=str(data), DEBUG="false")
    log = (data / "server.log").open("wb")
    process = subprocess.Popen(  # noqa: S603  (our own fixed argv)
        [str(LS_BIN), "start", "--no-browser", "--data-dir", str(data), "--internal-host", "127.0.0.1",
         "-p", str(port), "--username", LS_EMAIL, "--password", "ls-password-123",
         "--user-token", LS_TOKEN, "--enable-legacy-api-token"],
        cwd=data, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        # Readiness, not timing: a bounded number of polls while it migrates its database and starts.
        for _ in range(1200):
            if process.poll() is not None:
                raise LabelStudioDidNotStart(f"Label Studio exited: {(data / 'server.log').read_text()[-3000:]}")
            try:
                if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            time.sleep(0.2)
        else:
            raise LabelStudioDidNotStart(f"Label Studio did not start: {(data / 'server.log').read_text()[-3000:]}")
        yield LabelStudioServer(url=url, token=LS_TOKEN, email=LS_EMAIL)
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
        log.close()


@pytest.fixture(scope="session")
def label_studio(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LabelStudioServer]:
    try:
        with start_label_studio(tmp_path_factory.mktemp("label-studio")) as server:
            yield server
    except LabelStudioDidNotStart as exc:
        pytest.fail(str(exc))
