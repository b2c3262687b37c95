"""Outbound requests go only to hosts an operator allowed (LOUPE_OUTBOUND_ALLOWED_HOSTS): Loupe never fetches
or posts to a URL a user typed without that check (webhooks, training pipelines).

`post_outbound` is the one way out: it checks the URL, resolves the host once, refuses a name that resolves to
a loopback, private, link-local or otherwise non-public address (DNS rebinding, a careless allow-list) unless
LOUPE_OUTBOUND_ALLOWED_NETWORKS lists it, and connects to that resolved address — pinned, never resolved
again — with the original Host header and TLS name, never following a redirect."""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import socket
from urllib.parse import urlsplit, urlunsplit

import httpx
from django.conf import settings

from annotations.errors import InvalidInput


def check_outbound_url(url: str) -> str:
    parts = urlsplit(url)
    allowed = {h.lower() for h in settings.LOUPE_OUTBOUND_ALLOWED_HOSTS}
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise InvalidInput("The URL must be http(s) with a host.", code="invalid_url")
    if parts.scheme == "http" and not settings.DEBUG and parts.hostname not in allowed:
        raise InvalidInput("Plain http is allowed only to explicitly allowed hosts.", code="url_not_allowed",
                           details={"host": parts.hostname})
    if parts.hostname.lower() not in allowed:
        raise InvalidInput("This host is not in LOUPE_OUTBOUND_ALLOWED_HOSTS.", code="url_not_allowed",
                           details={"host": parts.hostname})
    return url


Address = ipaddress.IPv4Address | ipaddress.IPv6Address


def _public(address: Address) -> bool:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped  # ::ffff:127.0.0.1 is loopback
    return address.is_global and not address.is_multicast


def _resolve(host: str, port: int) -> list[Address]:
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:  # transient, like a refused connection: retried
        raise httpx.ConnectError(f"{host} could not be resolved: {exc}") from exc
    return list(dict.fromkeys(ipaddress.ip_address(str(info[4][0]).split("%")[0]) for info in infos))


def pinned_address(url: str) -> Address:
    """The address to connect to for an allowed URL; InvalidInput when the host resolves inward."""
    check_outbound_url(url)
    parts = urlsplit(url)
    host = parts.hostname or ""
    try:
        literal: Address | None = ipaddress.ip_address(host)
    except ValueError:
        literal = None
    if literal is not None:
        return literal  # an address the operator listed as written
    addresses = _resolve(host, parts.port or (443 if parts.scheme == "https" else 80))
    networks = [ipaddress.ip_network(n, strict=False) for n in settings.LOUPE_OUTBOUND_ALLOWED_NETWORKS]
    inward = [str(a) for a in addresses if not _public(a) and not any(a in n for n in networks)]
    if inward or not addresses:
        # Every address must pass: a name answering one public and one inward address would be a coin toss.
        raise InvalidInput("This host resolves to an address Loupe does not call (loopback, private, link-local"
                           " …); list it in LOUPE_OUTBOUND_ALLOWED_NETWORKS to allow it.",
                           code="url_not_allowed", details={"host": host, "addresses": inward})
    return addresses[0]


def post_outbound(url: str, *, content: bytes, headers: dict[str, str], timeout: float) -> httpx.Response:
    """POST to an allowed URL at its pinned address (module docstring). Raises InvalidInput for a URL or address
    not allowed, httpx.HTTPError for the network."""
    address = pinned_address(url)
    parts = urlsplit(url)
    netloc = f"[{address}]" if address.version == 6 else str(address)
    if parts.port is not None:
        netloc += f":{parts.port}"
    pinned = urlunsplit((parts.scheme, netloc, parts.path or "/", parts.query, ""))
    host_header = parts.hostname if parts.port is None else f"{parts.hostname}:{parts.port}"
    # TLS: SNI and the certificate check use the host name, not the address connected to.
    extensions = {"sni_hostname": parts.hostname} if parts.scheme == "https" else {}
    with httpx.Client(timeout=timeout, follow_redirects=False, trust_env=False) as client:
        request = client.build_request("POST", pinned, content=content,
                                       headers={**headers, "Host": host_header or ""}, extensions=extensions)
        return client.send(request)


def sign(secret: str, body: bytes) -> str:
    """The `X-Loupe-Signature` of an outbound body (webhooks, training dispatch): HMAC-SHA256 with the secret."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


class _PinnedTransport(httpx.HTTPTransport):
    """Sends every request to the address resolved once for the client's host (module docstring), with the
    original Host header and TLS name: a client library (label-studio-sdk) gets the same guarantees as
    `post_outbound` without knowing of them."""

    def __init__(self, host: str, address: Address) -> None:
        super().__init__()
        self._host, self._address = host, address

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.host != self._host:  # never elsewhere, whatever the library builds
            raise httpx.ConnectError(f"refused: {request.url.host} is not the linked host")
        request.headers["Host"] = request.url.netloc.decode()
        request.url = request.url.copy_with(host=str(self._address))
        if request.url.scheme == "https":
            request.extensions = {**request.extensions, "sni_hostname": self._host}
        return super().handle_request(request)


def pinned_client(url: str, *, timeout: float) -> httpx.Client:
    """An httpx client for an allowed base URL whose every request goes to its pinned address and never follows
    a redirect. Raises InvalidInput for a URL or address not allowed."""
    address = pinned_address(url)
    host = urlsplit(url).hostname or ""
    return httpx.Client(transport=_PinnedTransport(host, address), timeout=timeout, follow_redirects=False,
                        trust_env=False)
