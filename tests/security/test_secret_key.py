"""Finding 2 of issue 14: no secret key ships in the repository, and a weak one never signs anything that
leaves a developer's laptop. Start-up is tested in real child processes, as a server would start."""

from __future__ import annotations

import base64
import hashlib
import stat
from pathlib import Path

import pytest

from config.secret_key import (
    MIN_LENGTH,
    PRODUCTION_MIN_LENGTH,
    is_local_development,
    is_loopback_host,
    key_weakness,
)
from tests.security.settings_process import run_django

OLD_REPOSITORY_KEY = "loupe-insecure-development-key-do-not-use-in-production"
CI_KEY = "ci-only-secret-key-not-for-production"
PRINT_KEY = "import django; django.setup(); from django.conf import settings; print(settings.SECRET_KEY)"


def sample_key(label: str, length: int = 64) -> str:
    """A random-looking key, the same on every run (so test ids and results are deterministic)."""
    return base64.urlsafe_b64encode(hashlib.sha512(label.encode()).digest()).decode()[:length]


def assert_refused(result, *phrases: str) -> None:
    assert result.returncode != 0, f"started:\n{result.stdout}{result.stderr}"
    assert "ConfigError" in result.stderr, result.stderr[-2000:]
    for phrase in phrases:
        assert phrase in result.stderr, result.stderr[-2000:]


def test_without_a_key_a_server_with_debug_off_refuses_to_start(tmp_path: Path) -> None:
    result = run_django(tmp_path, {})
    assert_refused(result, "LOUPE_SECRET_KEY is not set")
    assert not (tmp_path / "secret_key").exists()


@pytest.mark.parametrize("env", [
    {"LOUPE_DEBUG": "true", "LOUPE_ALLOWED_HOSTS": "localhost,loupe.example.com"},  # reachable by a real name
    {"LOUPE_DEBUG": "true", "LOUPE_ALLOWED_HOSTS": "*"},
    {"LOUPE_DEBUG": "true", "LOUPE_PRODUCTION": "true"},  # production is never local development
], ids=["debug-public-host", "debug-any-host", "debug-production"])
def test_without_a_key_only_local_development_starts(tmp_path: Path, env: dict[str, str]) -> None:
    assert_refused(run_django(tmp_path, env), "LOUPE_SECRET_KEY is not set")


def test_local_development_makes_a_private_random_key_once_and_keeps_it(tmp_path: Path) -> None:
    first = run_django(tmp_path, {"LOUPE_DEBUG": "true"}, script=PRINT_KEY)
    assert first.returncode == 0, first.stderr[-2000:]
    key_file = tmp_path / "secret_key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    key = first.stdout.strip()
    assert key == key_file.read_text().strip() and key != OLD_REPOSITORY_KEY
    assert key_weakness(key, production=True) is None  # as strong as a production key
    again = run_django(tmp_path, {"LOUPE_DEBUG": "true", "LOUPE_ALLOWED_HOSTS": "127.0.0.1,[::1],localhost"},
                       script=PRINT_KEY)
    assert again.returncode == 0 and again.stdout.strip() == key  # sessions survive a restart
    other_install = run_django(tmp_path / "elsewhere", {"LOUPE_DEBUG": "true"}, script=PRINT_KEY)
    assert other_install.returncode == 0 and other_install.stdout.strip() != key


@pytest.mark.parametrize("key", ["x", CI_KEY, sample_key("forty", 40)], ids=["one-char", "ci-key", "40-chars"])
def test_production_refuses_a_weak_key(tmp_path: Path, key: str) -> None:
    result = run_django(tmp_path, {"LOUPE_PRODUCTION": "true", "LOUPE_SECRET_KEY": key,
                                   "LOUPE_ALLOWED_HOSTS": "loupe.example.com"})
    assert_refused(result, "LOUPE_SECRET_KEY is refused")
    assert len(key) < 8 or key not in result.stderr  # the refusal does not print the key


def test_a_server_outside_local_development_refuses_a_short_key_and_the_old_repository_key(tmp_path: Path) -> None:
    assert_refused(run_django(tmp_path, {"LOUPE_SECRET_KEY": "short-but-random-7f3a"}), "LOUPE_SECRET_KEY is refused")
    # Published, so refused everywhere, local development included.
    assert_refused(run_django(tmp_path, {"LOUPE_SECRET_KEY": OLD_REPOSITORY_KEY, "LOUPE_DEBUG": "true"}),
                   "published in Loupe's repository")


def test_the_ci_key_serves_tests_and_a_strong_key_serves_production(tmp_path: Path) -> None:
    ci = run_django(tmp_path, {"LOUPE_SECRET_KEY": CI_KEY}, script=PRINT_KEY)
    assert ci.returncode == 0 and ci.stdout.strip() == CI_KEY, ci.stderr[-2000:]
    key = sample_key("production")
    production = run_django(tmp_path, {"LOUPE_PRODUCTION": "true", "LOUPE_SECRET_KEY": key,
                                       "LOUPE_ALLOWED_HOSTS": "loupe.example.com"}, script=PRINT_KEY)
    assert production.returncode == 0 and production.stdout.strip() == key, production.stderr[-2000:]


def test_a_key_from_a_file_is_checked_too(tmp_path: Path) -> None:
    mounted = tmp_path / "mounted-secret"
    mounted.write_text("changeme\n")
    assert_refused(run_django(tmp_path, {"LOUPE_SECRET_KEY_FILE": str(mounted)}), "LOUPE_SECRET_KEY is refused")


@pytest.mark.parametrize(("key", "production", "reason"), [
    ("a" * 64, True, "distinct"),
    ("ab" * 40, False, "distinct"),
    ("django-insecure-" + sample_key("django"), False, "placeholder"),
    ("changeme-" + sample_key("changeme"), False, "placeholder"),
    ("please-CHANGE_ME-" + sample_key("change me"), False, "placeholder"),
    (CI_KEY + sample_key("ci", 20), True, "not meant for production"),
    ("insecure-" + sample_key("insecure"), True, "not meant for production"),
    (sample_key("short", MIN_LENGTH - 1), False, "fewer than 32"),
    (sample_key("short production", PRODUCTION_MIN_LENGTH - 1), True, "fewer than 50"),
    (OLD_REPOSITORY_KEY, False, "published"),
], ids=["one-char-repeated", "two-chars", "django-template", "changeme", "change-me", "ci-in-production",
        "insecure-in-production", "short", "short-for-production", "old-repository-key"])
def test_weak_keys_are_named_with_the_reason(key: str, production: bool, reason: str) -> None:
    weakness = key_weakness(key, production=production)
    assert weakness is not None and reason in weakness


@pytest.mark.parametrize(("key", "production"), [
    (CI_KEY, False), (sample_key("32", 32), False), (hashlib.md5(b"hex").hexdigest(), False),  # noqa: S324
    (sample_key("50", 50), True), (hashlib.sha256(b"hex").hexdigest(), True),
], ids=["ci-key", "32-chars", "32-hex", "50-chars", "64-hex"])
def test_random_keys_are_accepted(key: str, production: bool) -> None:
    assert key_weakness(key, production=production) is None


def test_local_development_means_debug_on_and_loopback_names_only() -> None:
    assert all(map(is_loopback_host, ["localhost", "127.0.0.1", "127.8.9.1", "[::1]", "::1", "app.localhost",
                                      "testserver", "LOCALHOST."]))
    every_interface = "0.0.0.0"  # noqa: S104  (a host name to judge, nothing is bound)
    assert not any(map(is_loopback_host, ["*", ".example.com", every_interface, "10.0.0.1", "localhost.example.com",
                                          "loupe.example.com", ""]))
    loopback = ["127.0.0.1", "localhost"]
    assert is_local_development(debug=True, allowed_hosts=loopback, production=False)
    assert not is_local_development(debug=False, allowed_hosts=loopback, production=False)
    assert not is_local_development(debug=True, allowed_hosts=loopback, production=True)
    assert not is_local_development(debug=True, allowed_hosts=[], production=False)
    assert not is_local_development(debug=True, allowed_hosts=[*loopback, "192.168.1.20"], production=False)
