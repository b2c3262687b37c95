"""Where the server's secret key comes from, and which keys are refused (README, "Pointing it at real services").

The key signs sessions, CSRF tokens, password links and the export download links that work without an
account, so a guessable key is an open door. Rules:

- `LOUPE_SECRET_KEY` (or `LOUPE_SECRET_KEY_FILE`) set: used if strong enough. Outside local development a key
  is refused when it is shorter than 32 characters, has fewer than 8 distinct characters or is a known
  placeholder; in production (`LOUPE_PRODUCTION=true`) also when shorter than 50 characters (Django's own
  `check --deploy` rule) or marked as not for production ("insecure", "not-for-production", ...).
- Not set: only local development may start (debug on and every allowed host a loopback name), with a random
  key generated once per install and kept in the var folder (mode 0600). Anything else refuses to start.

Framework-free on purpose: settings call it before Django is configured.
"""

from __future__ import annotations

import ipaddress
import os
import secrets
from pathlib import Path

from config.env import ConfigError

MIN_LENGTH = 32
PRODUCTION_MIN_LENGTH = 50  # what `manage.py check --deploy` asks of SECRET_KEY (security.W009)
MIN_DISTINCT_CHARACTERS = 8
KEY_FILE_NAME = "secret_key"

# The key this repository once shipped as its development fallback: public, so it never signs anything.
PUBLISHED_KEYS = frozenset({"loupe-insecure-development-key-do-not-use-in-production"})
# Compared on the key lowercased with everything but letters and digits removed.
_PLACEHOLDERS = ("changeme", "changethis", "replaceme", "yoursecretkey", "secretkeyhere", "putyourkeyhere")
_NOT_FOR_PRODUCTION = ("insecure", "notforproduction", "donotuse", "dontuse", "development", "example", "dummy")
_DJANGO_TEMPLATE_PREFIX = "django-insecure-"  # what `startproject` writes into a new project's settings


def is_loopback_host(host: str) -> bool:
    """A host name only this machine answers to: localhost (and *.localhost), a loopback address, or Django's
    test client's `testserver` (never resolvable, so nothing outside can be reached by it)."""
    name = host.strip().lower().rstrip(".")
    if name in {"localhost", "testserver"} or name.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(name.removeprefix("[").removesuffix("]")).is_loopback
    except ValueError:
        return False


def is_local_development(*, debug: bool, allowed_hosts: list[str], production: bool) -> bool:
    """Debug on and served to loopback names only: a developer's laptop, never a reachable server."""
    return debug and not production and bool(allowed_hosts) and all(map(is_loopback_host, allowed_hosts))


def key_weakness(key: str, *, production: bool) -> str | None:
    """Why `key` must not sign anything outside local development, or None if it is acceptable."""
    folded = "".join(ch for ch in key.lower() if ch.isalnum())
    if key in PUBLISHED_KEYS:
        return "it is the development key published in Loupe's repository"
    minimum = PRODUCTION_MIN_LENGTH if production else MIN_LENGTH
    if len(key) < minimum:
        return f"it has {len(key)} characters, fewer than {minimum}"
    if len(set(key)) < MIN_DISTINCT_CHARACTERS:
        return f"it has fewer than {MIN_DISTINCT_CHARACTERS} distinct characters"
    if key.startswith(_DJANGO_TEMPLATE_PREFIX) or any(word in folded for word in _PLACEHOLDERS):
        return "it is a placeholder, not a secret"
    if production and any(word in folded for word in _NOT_FOR_PRODUCTION):
        return "it is marked as not meant for production"
    return None


def local_development_key(var_dir: Path) -> str:
    """This install's own random key, made on first use and kept in `var_dir` readable by its owner only."""
    path = var_dir / KEY_FILE_NAME
    if not path.exists():
        staged = var_dir / f".{KEY_FILE_NAME}.{os.getpid()}.{secrets.token_hex(4)}"
        fd = os.open(staged, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            os.fchmod(fd, 0o600)  # whatever the umask
            os.write(fd, secrets.token_urlsafe(48).encode())
        finally:
            os.close(fd)
        try:
            os.link(staged, path)  # atomic and never overwrites: two processes starting together agree on one key
        except FileExistsError:
            pass
        finally:
            staged.unlink()
    if path.stat().st_mode & 0o077:
        path.chmod(0o600)
    key = path.read_text().strip()
    if len(key) < MIN_LENGTH:
        raise ConfigError(f"{path} does not hold a usable key: delete it and a new one is generated")
    return key


def resolve_secret_key(*, key: str | None, production: bool, debug: bool, allowed_hosts: list[str],
                       var_dir: Path) -> str:
    """The key settings should use, or a ConfigError saying which variable to set and why."""
    local = is_local_development(debug=debug, allowed_hosts=allowed_hosts, production=production)
    if key is None:
        if local:
            return local_development_key(var_dir)
        raise ConfigError(
            "LOUPE_SECRET_KEY is not set. Set it (or LOUPE_SECRET_KEY_FILE) to a random value of at least "
            f"{PRODUCTION_MIN_LENGTH} characters, e.g. `python -c 'import secrets; print(secrets.token_urlsafe(50))'`."
            " Only local development (LOUPE_DEBUG=true and LOUPE_ALLOWED_HOSTS loopback names only) starts without"
            " one, using a key generated into LOUPE_VAR_DIR.")
    if key in PUBLISHED_KEYS:
        raise ConfigError("LOUPE_SECRET_KEY is the development key published in Loupe's repository: set a random one")
    weakness = None if local else key_weakness(key, production=production)
    if weakness is not None:
        raise ConfigError(f"LOUPE_SECRET_KEY is refused: {weakness}. Set a random value of at least "
                          f"{PRODUCTION_MIN_LENGTH} characters.")
    return key
