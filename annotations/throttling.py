"""Rate limits (DRF throttles) and the one answer to "which address is this client at?".

A limit is a count per window in the shared cache (Redis when REDIS_URL is set, so it holds across processes
and replicas), keyed by what the caller cannot change at will: the device token, the person, the account a
login or reset names, and the client address, taken from X-Forwarded-For only when the peer is a proxy we
trust (settings.LOUPE_TRUSTED_PROXIES). Rates come from settings.LOUPE_RATE_LIMITS, read per request.

DRF's SimpleRateThrottle keeps a list of every request's time per key and writes it back whole: O(limit) per
request, and two processes can each read the same list and both let a request through. Here a window opens
at a key's first request and its count is an atomic increment (in Redis one script, one round trip), so
3,000/min costs what 3/min does. A fixed window lets a client send up to twice the rate across a boundary:
acceptable for a brake, and what makes the count O(1).
"""

from __future__ import annotations

import functools
import hashlib
import ipaddress
import logging
import math
import time
import unicodedata
import weakref
from collections.abc import Iterable, Mapping
from typing import Any

from django.conf import settings
from django.core.cache import cache, caches
from django.core.cache.backends.redis import RedisCache
from django.http import HttpRequest
from redis.exceptions import NoScriptError
from rest_framework.request import Request
from rest_framework.throttling import BaseThrottle
from rest_framework.views import APIView

from annotations.models import Device
from annotations.rates import parse_rate

logger = logging.getLogger(__name__)

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


# --- the client's address -------------------------------------------------------------------------


def _parse_hop(hop: str) -> IPAddress | None:
    """One X-Forwarded-For entry: `1.2.3.4`, `1.2.3.4:5678`, `::1` or `[::1]:80`; None if it is none of them."""
    hop = hop.strip()
    if hop.startswith("["):
        hop = hop[1:hop.find("]")] if "]" in hop else ""
    elif hop.count(":") == 1:
        hop = hop.split(":", 1)[0]
    try:
        address = ipaddress.ip_address(hop)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def _trusted(address: IPAddress, proxies: Iterable[IPNetwork]) -> bool:
    return any(address in network for network in proxies)


def client_address(peer: str, forwarded_for: str | None, proxies: Iterable[IPNetwork]) -> str:
    """The client's address. The header is ignored unless the peer is a trusted proxy; then it is walked from
    the right (each proxy appends the address it was reached from), and the first hop that is not a trusted
    proxy is the client. Everything left of that hop is whatever the client chose to send."""
    proxies = tuple(proxies)
    current = _parse_hop(peer)
    if current is None:
        return peer
    if not forwarded_for or not _trusted(current, proxies):
        return str(current)
    for hop in reversed(forwarded_for.split(",")):
        parsed = _parse_hop(hop)
        if parsed is None:  # a trusted proxy forwarded something that is not an address: stop at that proxy
            return str(current)
        current = parsed
        if not _trusted(current, proxies):
            return str(current)
    return str(current)  # every hop is a trusted proxy: the leftmost is as far as we can see


@functools.lru_cache(maxsize=8)
def _networks(proxies: tuple[str, ...]) -> tuple[IPNetwork, ...]:
    return tuple(ipaddress.ip_network(p, strict=False) for p in proxies)


def request_client_address(request: Request | HttpRequest) -> str:
    """The client address of a request, under settings.LOUPE_TRUSTED_PROXIES."""
    meta = request.META
    return client_address(meta.get("REMOTE_ADDR", ""), meta.get("HTTP_X_FORWARDED_FOR"),
                          _networks(tuple(settings.LOUPE_TRUSTED_PROXIES)))


def _address_key(address: str) -> str:
    """IPv6 clients are counted per /64: one host usually holds a whole /64 and could rotate inside it."""
    try:
        parsed = ipaddress.ip_address(address)
    except ValueError:
        return address
    if isinstance(parsed, ipaddress.IPv6Address):
        return str(ipaddress.ip_network(f"{parsed}/64", strict=False))
    return str(parsed)


# --- the throttles ----------------------------------------------------------------------------------


# One round trip, atomic: count this request, start the window's clock on its first, and say how long is left.
_REDIS_COUNT = """
local count = redis.call('INCR', KEYS[1])
local ttl = redis.call('PTTL', KEYS[1])
if count == 1 or ttl < 0 then
    redis.call('PEXPIRE', KEYS[1], ARGV[1])
    ttl = tonumber(ARGV[1])
end
return {count, ttl}
"""
_REDIS_COUNT_SHA = hashlib.sha1(_REDIS_COUNT.encode()).hexdigest()  # noqa: S324  (Redis names scripts so)


_redis_clients: weakref.WeakKeyDictionary[RedisCache, Any] = weakref.WeakKeyDictionary()


def _count_in_redis(backend: RedisCache, key: str, seconds: int) -> tuple[int, float]:
    # Through the cache's own redis-py client and pool: Django keeps it behind RedisCache._cache (not public
    # API, unchanged since Django 4.0). Django's add/incr would cost three round trips instead of one.
    full_key = backend.make_and_validate_key(key)
    client = _redis_clients.get(backend)
    if client is None:  # building a redis-py client costs more than the round trip: one per cache backend
        client = _redis_clients[backend] = backend._cache.get_client(full_key, write=True)
    try:
        count, ttl_ms = client.evalsha(_REDIS_COUNT_SHA, 1, full_key, seconds * 1000)
    except NoScriptError:  # the first call on this server (or after a restart): send the script itself
        count, ttl_ms = client.eval(_REDIS_COUNT, 1, full_key, seconds * 1000)
    return int(count), int(ttl_ms) / 1000


def _count_in_cache(key: str, seconds: int, now: float) -> tuple[int, float]:
    """Any other cache (memory, in the embedded mode's one process): the window's opening time is a key of
    its own, so its end is known."""
    if cache.add(f"{key}:t", now, timeout=seconds):  # no window open: this request opens one
        cache.set(f"{key}:n", 1, timeout=seconds)
        return 1, float(seconds)
    try:
        count = cache.incr(f"{key}:n")
    except ValueError:  # the count expired a moment before the window's mark
        count = 1 if cache.add(f"{key}:n", 1, timeout=seconds) else cache.incr(f"{key}:n")
    return count, cache.get(f"{key}:t", now) + seconds - now


class WindowThrottle(BaseThrottle):
    """`scope`'s rate from settings.LOUPE_RATE_LIMITS, counted per `ident()` in the shared cache.

    A cache that fails lets the request through with a log line: a Redis outage must not take login or ingest
    down with it, and the limits are a brake on abuse, not the boundary that decides access."""

    scope = ""

    def __init__(self) -> None:
        self.retry_after = 1

    def ident(self, request: Request, view: APIView) -> str | None:
        """What to count this request against; None: this throttle does not apply to it."""
        raise NotImplementedError

    def allow_request(self, request: Request, view: APIView) -> bool:
        ident = self.ident(request, view)
        if ident is None:
            return True
        limit, seconds = parse_rate(settings.LOUPE_RATE_LIMITS[self.scope])
        # Hashed: an account name or a header value is never a cache key (length, spaces, what it reveals).
        key = f"throttle:{self.scope}:{hashlib.sha256(ident.encode()).hexdigest()[:32]}"
        backend = caches["default"]
        try:
            if isinstance(backend, RedisCache):
                count, left = _count_in_redis(backend, key, seconds)
            else:
                count, left = _count_in_cache(key, seconds, time.time())
        except Exception:  # the cache is down: let the request through (docstring)
            logger.warning("rate limit %s not checked: the cache failed", self.scope, exc_info=True)
            return True
        self.retry_after = max(1, math.ceil(left))
        return count <= limit

    def wait(self) -> float:
        return float(self.retry_after)


class AddressThrottle(WindowThrottle):
    def ident(self, request: Request, view: APIView) -> str | None:
        return _address_key(request_client_address(request))


def normalise_account(value: str) -> str:
    """The account a request names, as a limit counts it: `Alice@Example.com ` and `alice@example.com` are one."""
    return unicodedata.normalize("NFKC", value).strip().casefold()


class AccountThrottle(WindowThrottle):
    """Counts per the account named in the body's `field`, whoever asks and from wherever: rotating addresses
    does not buy more guesses at one password."""

    field = ""

    def ident(self, request: Request, view: APIView) -> str | None:
        data: Any = request.data
        value = data.get(self.field) if isinstance(data, Mapping) else None
        return normalise_account(value) if isinstance(value, str) and value.strip() else None


class DeviceThrottle(WindowThrottle):
    def ident(self, request: Request, view: APIView) -> str | None:
        return f"device:{request.auth.pk}" if isinstance(request.auth, Device) else None


class PersonThrottle(WindowThrottle):
    def ident(self, request: Request, view: APIView) -> str | None:
        pk = getattr(request.user, "pk", None)  # a person; never a device principal or nobody
        return f"user:{pk}" if pk is not None else None


class LoginAddressThrottle(AddressThrottle):
    scope = "login_address"


class LoginAccountThrottle(AccountThrottle):
    scope, field = "login_account", "username"


class PasswordResetAddressThrottle(AddressThrottle):
    scope = "password_reset_address"


class PasswordResetAccountThrottle(AccountThrottle):
    scope, field = "password_reset_account", "email"


class PasswordSetAddressThrottle(AddressThrottle):
    scope = "password_set_address"


class PasswordSetAccountThrottle(AccountThrottle):
    scope, field = "password_set_account", "uid"


class DeviceEventsThrottle(DeviceThrottle):
    scope = "device_events"


class DeviceMediaThrottle(DeviceThrottle):
    scope = "device_media"


class DeviceHeartbeatThrottle(DeviceThrottle):
    scope = "device_heartbeat"


class ClaimThrottle(PersonThrottle):
    scope = "claim"


class MediaReadThrottle(PersonThrottle):
    scope = "media_read"
