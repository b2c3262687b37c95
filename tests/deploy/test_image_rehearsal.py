"""The image's Python stages replayed without a container engine (none runs on these machines, so
`docker build` never has): the app is installed as deploy/Dockerfile installs it, from the build context its COPYs
name, as a wheel and not editable, into an environment that sees none of the source tree; then each role the
image runs is started through the image's entry point, from outside the repository, with the image's environment:

- `collectstatic` as the runtime stage's RUN does it (with a throwaway key), the browser app's files included;
- `migrate` on an empty database;
- `web`: /healthz and /readyz answer 200, the browser app and a hashed static file are served;
- `healthcheck` (Docker's HEALTHCHECK) exits 0 against it;
- `worker` answers a Celery ping on the queues it was given.

What this cannot show: the base image's system libraries and the `pip install` of the dependencies, which come
from the project's own environment here (a path entry after the installed app, not its editable finder).
"""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import sys
import sysconfig
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import psycopg
import pytest

from tests.cluster.polling import until
from tests.deploy.test_manifests import DEPLOY, ROOT, check_dockerfile, dockerfile_stages, ignored
from tests.server import free_port

# The console scripts the entry point runs: installed into the image's environment with the app, as the image
# has them, so none of them starts the project's editable install.
ENTRY_POINT_PACKAGES = ["django", "uvicorn", "celery"]


def build_context(into: Path) -> Path:
    """The python-build stage's COPY sources, minus what .dockerignore keeps out of the context."""
    stage = next(s for s in dockerfile_stages() if s.name == "python-build")
    copied = {source.rstrip("/") for value in stage.all("COPY") if not value.startswith("--")
              for source in value.split()[:-1]}
    assert copied <= {s.rstrip("/") for s in check_dockerfile()}
    for source in sorted(copied):
        target = into / source
        target.parent.mkdir(parents=True, exist_ok=True)
        if (ROOT / source).is_dir():
            shutil.copytree(ROOT / source, target, ignore=lambda folder, names: [
                n for n in names if n == "__pycache__" or ignored(os.path.relpath(Path(folder, n), ROOT))])
        else:
            shutil.copy2(ROOT / source, target)
    return into


@pytest.fixture(scope="module")
def image(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """The installed app and the runtime environment variables of deploy/Dockerfile's last stage."""
    base = tmp_path_factory.mktemp("image")
    venv = base / "opt-loupe"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)  # noqa: S603
    site = Path(subprocess.run(  # noqa: S603
        [str(venv / "bin/python"), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True, text=True, check=True).stdout.strip())
    # The dependencies: the project's environment as a plain path entry after the app (its .pth files, the
    # editable finder among them, are not read from there).
    (site / "zz_dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    context = build_context(base / "context")
    pip = [sys.executable, "-m", "pip", "--python", str(venv / "bin/python"), "install", "--quiet",
           "--disable-pip-version-check", "--no-deps", "--no-build-isolation"]
    subprocess.run([*pip, str(context)], check=True, cwd=base)  # noqa: S603
    subprocess.run([*pip, "--ignore-installed", *ENTRY_POINT_PACKAGES], check=True, cwd=base)  # noqa: S603
    entry_point = venv / "bin/loupe-entrypoint"
    shutil.copy2(DEPLOY / "entrypoint.sh", entry_point)
    entry_point.chmod(0o755)
    frontend = base / "opt-loupe-frontend"
    shutil.copytree(ROOT / "frontend" / "dist", frontend)  # the frontend stage's output (`make frontend`)

    database = f"loupe_image_{uuid.uuid4().hex[:10]}"
    with psycopg.connect("postgresql://postgres@127.0.0.1:5432/postgres", autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{database}"')
    var = base / "var-lib-loupe"
    var.mkdir()
    env = {
        "PATH": f"{venv / 'bin'}:/usr/bin:/bin", "HOME": str(var), "PYTHONDONTWRITEBYTECODE": "1",
        "PYTHONUNBUFFERED": "1", "DJANGO_SETTINGS_MODULE": "config.settings", "LOUPE_VAR_DIR": str(var),
        "LOUPE_FRONTEND_DIST": str(frontend), "PORT": str(free_port()),
        "DATABASE_URL": f"postgres://postgres@127.0.0.1:5432/{database}",
        "REDIS_URL": os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"),
        "LOUPE_CELERY_KEY_PREFIX": f"loupe-image-{uuid.uuid4().hex[:8]}:",
        "LOUPE_CACHE_KEY_PREFIX": f"loupe-image-{uuid.uuid4().hex[:8]}",
        "LOUPE_SECRET_KEY": secrets.token_urlsafe(50), "LOUPE_ALLOWED_HOSTS": "localhost,127.0.0.1",
        "MEDIA_STORAGE": str(var / "media"),
    }
    try:
        yield env
    finally:
        with psycopg.connect("postgresql://postgres@127.0.0.1:5432/postgres", autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')


def role(env: dict[str, str], *argv: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["loupe-entrypoint", *argv], env=env, cwd=env["LOUPE_VAR_DIR"],  # noqa: S603, S607
                          capture_output=True, text=True, timeout=timeout, check=False)


def test_the_app_runs_from_its_installed_wheel_and_not_from_the_source_tree(image: dict[str, str]):
    where = role(image, "python", "-c", "import config, annotations, edge, django; "
                 "print(config.__file__); print(annotations.__file__); print(django.__file__)")
    assert where.returncode == 0, where.stderr
    app_config, app_annotations, django = where.stdout.split()
    venv = str(Path(image["PATH"].split(":")[0]).parent)
    assert app_config.startswith(venv) and app_annotations.startswith(venv), where.stdout
    assert not app_config.startswith(str(ROOT)), "the editable install leaked into the image's environment"
    assert django.startswith(venv)


def test_every_role_of_the_image_starts_from_the_installed_app(image: dict[str, str]):
    # The runtime stage's RUN: collectstatic with a key used for that command only.
    collected = role({**image, "LOUPE_SECRET_KEY": secrets.token_urlsafe(50)},
                     "django-admin", "collectstatic", "--noinput", "-v0")
    assert collected.returncode == 0, collected.stderr[-3000:]
    static = Path(image["LOUPE_VAR_DIR"]) / "static"
    assert (static / "app" / "index.html").exists() and (static / "admin").is_dir()

    migrated = role(image, "migrate")
    assert migrated.returncode == 0, migrated.stderr[-3000:]
    assert "Applying annotations.0001_initial... OK" in migrated.stdout

    web = subprocess.Popen(["loupe-entrypoint", "web"], env=image, cwd=image["LOUPE_VAR_DIR"],  # noqa: S603, S607
                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, start_new_session=True)
    worker_queues = "celery,exports"
    worker = subprocess.Popen(  # noqa: S603
        ["loupe-entrypoint", "worker", "--hostname", "rehearsal@%h"],  # noqa: S607 (the image's PATH)
        env={**image, "LOUPE_WORKER_QUEUES": worker_queues, "LOUPE_WORKER_CONCURRENCY": "1"},
        cwd=image["LOUPE_VAR_DIR"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
        start_new_session=True)
    try:
        base = f"http://127.0.0.1:{image['PORT']}"

        def answers(path: str) -> httpx.Response | None:
            assert web.poll() is None, web.stderr.read()[-3000:] if web.stderr else "web exited"
            try:
                return httpx.get(base + path, timeout=5)
            except httpx.TransportError:
                return None

        until("the web role to answer", lambda: answers("/healthz"), timeout=120, every=0.2)
        ready = answers("/readyz")
        assert ready is not None and ready.status_code == 200, ready.text if ready else None
        page = answers("/")
        assert page is not None and page.status_code == 200 and '<div id="app"' in page.text, page
        asset = next(p for p in (static / "app" / "assets").iterdir() if p.suffix == ".js")
        served = answers(f"/static/app/assets/{asset.name}")
        assert served is not None and served.status_code == 200 and served.content == asset.read_bytes()

        health = role(image, "healthcheck", timeout=30)
        assert health.returncode == 0, health.stderr

        def pong() -> str:
            assert worker.poll() is None, worker.stderr.read()[-3000:] if worker.stderr else "worker exited"
            ping = role(image, "celery", "-A", "config", "inspect", "ping", "--timeout", "2", timeout=60)
            return ping.stdout if ping.returncode == 0 else ""

        assert "pong" in until("the worker role to answer a ping", pong, timeout=120, every=0.5)
        queues = role(image, "celery", "-A", "config", "inspect", "active_queues", "--timeout", "2", timeout=60)
        assert {"celery", "exports"} <= {q for q in worker_queues.split(",") if f"'name': '{q}'" in queues.stdout}
    finally:
        for process in (web, worker):
            if process.poll() is None:
                os.killpg(process.pid, 9)
            process.wait(timeout=30)
