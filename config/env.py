"""Strict readers for settings that come from the environment (12-factor)."""

import ipaddress
import json
import os
import urllib.parse
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from annotations.rates import parse_rate

T = TypeVar("T", int, float)
D = TypeVar("D")

_TRUE = {"true", "1"}
_FALSE = {"false", "0"}


class ConfigError(RuntimeError):
    """A setting in the environment is malformed."""


def env_str(name: str, default: str | None = None) -> str | None:
    """Read a string; a `NAME_FILE` variable (e.g. a mounted secret) wins over `NAME`."""
    file_path = os.environ.get(f"{name}_FILE")
    if file_path:
        return Path(file_path).read_text().strip()
    value = os.environ.get(name)
    return default if value is None or value == "" else value


def env_bool(name: str, default: bool) -> bool:
    raw = env_str(name)
    if raw is None:
        return default
    lowered = raw.lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise ConfigError(f"{name} must be true or false, not {raw!r}")


def _env_number(name: str, default: T, parse: Callable[[str], T], kind: str) -> T:
    raw = env_str(name)
    if raw is None:
        return default
    try:
        return parse(raw)
    except ValueError as exc:
        raise ConfigError(f"{name} must be {kind}, not {raw!r}") from exc


def env_int(name: str, default: int) -> int:
    return _env_number(name, default, int, "an integer")


def env_port(name: str) -> int | None:
    """A TCP port (1-65535), or None when unset."""
    if env_str(name) is None:
        return None
    port = env_int(name, 0)
    if not 1 <= port <= 65535:
        raise ConfigError(f"{name} must be a TCP port between 1 and 65535, not {port}")
    return port


def env_float(name: str, default: float) -> float:
    return _env_number(name, default, float, "a number")


def env_list(name: str, default: list[str]) -> list[str]:
    raw = env_str(name)
    if raw is None:
        return default
    return [part.strip() for part in raw.split(",") if part.strip()]


def env_rate(name: str, default: str) -> str:
    raw = env_str(name, default) or default
    try:
        parse_rate(raw)
    except ValueError as exc:
        raise ConfigError(f"{name}: {exc}") from exc
    return raw


def env_networks(name: str) -> list[str]:
    """Comma-separated IP addresses or CIDR networks (validated; kept as text for uvicorn's option too)."""
    values = env_list(name, [])
    for value in values:
        try:
            ipaddress.ip_network(value, strict=False)
        except ValueError as exc:
            raise ConfigError(f"{name}: {value!r} is not an IP address or network") from exc
    return values


def env_json_commands(name: str) -> dict[str, list[str]]:
    """A JSON object of name → argv list (strings), e.g. the trainer commands an operator allows."""
    raw = env_str(name)
    if raw is None:
        return {}
    try:
        value = json.loads(raw)
    except ValueError as exc:
        raise ConfigError(f"{name} must be a JSON object of name → argv list") from exc
    if not isinstance(value, dict) or not all(
            isinstance(k, str) and isinstance(v, list) and v and all(isinstance(p, str) for p in v)
            for k, v in value.items()):
        raise ConfigError(f"{name} must be a JSON object of name → non-empty list of strings")
    return value


def env_redis_url(name: str) -> str | None:
    """A Redis URL (redis://, rediss:// or unix://), checked for its shape; the value is never echoed in the
    error, since it may hold a password."""
    raw = env_str(name)
    if raw is None:
        return None
    problem = _redis_url_problem(raw)
    if problem:
        raise ConfigError(f"{name} must be a Redis URL such as redis://localhost:6379/0 (or rediss://, unix://): "
                          f"{problem}")
    return raw


def _redis_url_problem(raw: str) -> str:
    try:
        url = urllib.parse.urlsplit(raw)
        port = url.port  # raises on a port that is not a number in range
    except ValueError as exc:
        return f"it cannot be parsed ({exc})"
    if url.scheme not in ("redis", "rediss", "unix"):
        return f"the scheme is {url.scheme or 'missing'!r}"
    if url.scheme == "unix":
        return "" if url.path else "a unix:// URL needs the socket's path"
    if not url.hostname:
        return "the host is missing"
    database = url.path.strip("/")
    if database and not database.isdigit():
        return f"the database after the host must be a number, not {database!r}"
    del port
    return ""


def parse_database_url(name: str, raw: str, parse: Callable[[str], D]) -> D:
    """A DATABASE_URL parsed by dj-database-url; its error becomes a ConfigError without the password."""
    try:
        return parse(raw)
    except (ValueError, KeyError) as exc:
        scheme = raw.split("://", 1)[0] if "://" in raw else ""
        raise ConfigError(f"{name} must be a database URL such as postgres://user@host:5432/name or "
                          f"sqlite:///path (scheme given: {scheme or 'none'!r}; {type(exc).__name__})") from exc
