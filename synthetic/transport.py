"""HTTP exchanges bounded in time and size, with redirects followed by hand.

``send`` makes one logical request (the ``http`` step's, the OpenAPI document's fetch) and holds it to:

* **one deadline** for every phase of every hop: name resolution (in a thread, since ``getaddrinfo`` ignores
  socket timeouts), connect, TLS handshake, sending, the response head and the body. Socket timeouts bound
  single reads only, so a target that trickles a byte every half second never trips them; a watchdog thread
  shuts the socket down when the deadline passes, which ends whatever read or write is blocked on it.
  Through an HTTP(S) proxy (``HTTP_PROXY``, ``HTTPS_PROXY``) the same holds: the proxy's connection is ours.
  **Not through a SOCKS proxy** (``ALL_PROXY=socks5h://…``, with PySocks installed; without it such a request
  fails with ``connect``): urllib3's SOCKS connections make their socket inside PySocks, so the watchdog never
  sees it; the connect and the SOCKS handshake are bounded per operation by the connect timeout (at most
  ``CONNECT_TIMEOUT_SECONDS``), each read of the head and body by what was left of the deadline when the request
  was sent, the body between reads by the deadline (``_read_body``), and the proxy's name (and the target's,
  with ``socks5://`` or ``socks4://``) is resolved by PySocks without a bound. Bringing SOCKS under the deadline
  would take PySocks as a dependency and connection classes of its own (README, the paragraph on proxies).
* **byte caps**: the response head at ``MAX_RESPONSE_HEAD_BYTES`` (status line and headers together), the
  body at ``max_bytes`` both as it arrives and after decoding. We ask for ``gzip, deflate`` and decode them
  here in bounded steps, so a compression bomb stops at the cap instead of being inflated first.
* **redirects** followed hop by hop (``requests`` would re-send configured headers to another host, read every
  redirect body whole, and give each hop a fresh timeout): at most ``max_redirects``, a redirect's body is
  never read, 301/302 turn a POST into a GET and 303 anything but HEAD (as browsers do), and once a hop leaves
  the origin only ``CROSS_ORIGIN_HEADERS`` go along for the rest of the chain: never configured headers,
  credentials, a hand-set ``Cookie``, the CSRF token or the synthetic marker. A body is never re-sent to
  another origin (a 307/308 that asks for it fails).
* **only the credentials the caller gives**: the request is prepared from the session's headers, cookies and
  ``auth`` but not from a ``~/.netrc`` (or ``$NETRC``) on the exporter's host, which requests' own
  ``Session.prepare_request`` would read and let replace a step's ``Authorization`` header or add one to a
  request meant to go without (a contract check's anonymous call). Proxies and CA bundles still come from the
  environment as requests reads them (``environment_settings``).

* **timing phases** as blackbox_exporter names them (``resolve``, ``connect``, ``tls``, ``processing``,
  ``transfer``), marked where this module does each one and summed over the hops (``Timings``), and the
  earliest expiry of the certificates each TLS connection presented.

Failures are ``TransportFailure`` with a reason from ``synthetic.result.REASONS``: ``dns``, ``connect``,
``tls``, ``timeout``, ``protocol`` (what arrived is not valid HTTP), ``redirect`` and ``assertion`` (a body
over ``max_bytes``). Times are seconds on ``time.monotonic``; sizes are bytes.
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
import heapq
import http.client
import ipaddress
import itertools
import os
import re
import socket
import ssl
import threading
import time
import zlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, NamedTuple
from urllib.parse import urljoin, urlsplit

import requests
import urllib3
from requests.adapters import HTTPAdapter
from requests.cookies import extract_cookies_to_jar
from requests.sessions import merge_setting
from requests.structures import CaseInsensitiveDict
from requests.utils import get_environ_proxies, requote_uri
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import ConnectTimeoutError, LocationParseError, NameResolutionError, NewConnectionError
from urllib3.response import HTTPResponse as Urllib3Response
from urllib3.util import parse_url
from urllib3.util.connection import allowed_gai_family

from .result import PHASES

__all__ = [
    "ACCEPT_ENCODING",
    "CROSS_ORIGIN_HEADERS",
    "DEFAULT_MAX_REDIRECTS",
    "MAX_RESPONSE_HEAD_BYTES",
    "Origin",
    "Reply",
    "Timings",
    "TransportFailure",
    "origin_of",
    "send",
]

# Chrome's limit on a response head; http.client alone allows 100 lines of 64 KiB each (6.5 MB).
MAX_RESPONSE_HEAD_BYTES = 256 * 1024
# blackbox_exporter's and Go's default.
DEFAULT_MAX_REDIRECTS = 10
# The encodings decoded here, in bounded steps.
ACCEPT_ENCODING = "gzip, deflate"
# What a hop to another origin carries (lower-case names): the run's public trace context, nothing configured.
CROSS_ORIGIN_HEADERS = frozenset({"user-agent", "accept", "accept-encoding", "accept-language", "traceparent",
                                  "x-request-id"})  # fmt: skip
# At most this long for one connection attempt, however much of the deadline is left.
CONNECT_TIMEOUT_SECONDS = 10.0
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
IDEMPOTENT = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})
_BODY_HEADERS = frozenset({"content-type", "content-length", "transfer-encoding"})
_READ_SIZE = 64 * 1024
_DEFAULT_PORTS = {"http": 80, "https": 443}
_MESSAGE_CHARS = 300
_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*:")


class Timings:
    """Where one exchange's time went, by blackbox_exporter's phases, summed over its redirect hops (seconds).

    Each phase is marked where this module does it, on ``time.monotonic``: ``resolve`` while the host name is
    looked up (in ``_resolve``; a literal address takes no time), ``connect`` while the TCP connection is made,
    ``tls`` during the handshake (``HTTPSConnection.connect``), ``processing`` from the connection being ready
    (a new one after its handshake, a kept-alive one as the request starts) to the first byte of the response
    head, ``transfer`` from that byte until the body is read (a redirect's body is never read, so its transfer
    is its head). A kept-alive connection spends nothing in ``resolve``, ``connect`` and ``tls``. A phase that a
    failure or the deadline cuts counts up to the cut. Unlike blackbox_exporter, ``connect`` leaves out the
    TLS handshake (``tls`` has it), so the five add up to the exchange's duration, less the microseconds spent
    preparing each hop.

    ``cert_expires_at`` is the earliest ``notAfter`` (unix seconds) of the certificates the TLS connections of
    the exchange presented: the chain as the server sent it, or the leaf where Python does not show the chain;
    None without TLS.
    """

    def __init__(self) -> None:
        self.phases: dict[str, float] = dict.fromkeys(PHASES, 0.0)
        self.cert_expires_at: float | None = None
        self._current: str | None = None
        self._since = 0.0

    @property
    def current(self) -> str | None:
        """The phase being timed now, or None between hops."""
        return self._current

    def enter(self, phase: str | None) -> None:
        """End the current phase now and start ``phase`` (None: stop timing until the next phase)."""
        now = time.monotonic()
        if self._current is not None:
            self.phases[self._current] += now - self._since
        self._current, self._since = phase, now

    def saw_certificate(self, expires_at: float | None) -> None:
        if expires_at is not None and (self.cert_expires_at is None or expires_at < self.cert_expires_at):
            self.cert_expires_at = expires_at


class TransportFailure(Exception):
    """The exchange failed with ``reason``; what had arrived by then is kept for the run page.

    ``response`` is the last hop's response head (its status and headers) when one arrived, ``received`` the
    body bytes read before the failure, ``redirects`` the hops followed (see ``Reply.redirects``), ``timings``
    the phases up to the failure.
    """

    def __init__(
        self,
        reason: str,
        message: str,
        *,
        response: requests.Response | None = None,
        received: int = 0,
        redirects: list[str] | None = None,
    ) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message
        self.response = response
        self.received = received
        self.redirects = redirects or []
        self.timings = Timings()


@dataclass
class Reply:
    """The last hop's ``response`` (its ``content`` is ``content``), one ``"302 <from> -> <to>"`` per hop, and
    the exchange's ``timings``."""

    response: requests.Response
    content: bytes
    redirects: list[str] = field(default_factory=list)
    timings: Timings = field(default_factory=Timings)


class Origin(NamedTuple):
    scheme: str
    host: str
    port: int

    def __str__(self) -> str:
        return f"{self.scheme}://{self.host}:{self.port}"


def origin_of(url: str) -> Origin | None:
    """``(scheme, host, port)`` of an http(s) URL, or None when it is none or the two URL parsers disagree.

    ``requests`` reads a URL with urllib3's parser and then with the standard library's (which picks the
    connection): an URL they read differently is how a request ends up on a host nobody checked.
    """
    try:
        ours = parse_url(url)
        theirs = urlsplit(url)
        their_port = theirs.port
    except (LocationParseError, ValueError):
        return None
    scheme = (ours.scheme or "").lower()
    if scheme not in _DEFAULT_PORTS or (theirs.scheme or "").lower() != scheme:
        return None
    host = (ours.host or "").lower().strip("[]")
    their_host = (theirs.hostname or "").lower()
    if not their_host.isascii():
        try:
            their_host = their_host.encode("idna").decode("ascii")
        except UnicodeError:
            return None
    port = ours.port or _DEFAULT_PORTS[scheme]
    if not host or host != their_host or port != (their_port or _DEFAULT_PORTS[scheme]):
        return None
    return Origin(scheme, host, port)


def has_userinfo(url: str) -> bool:
    """Whether either URL parser finds ``user:password@`` in ``url``."""
    try:
        return parse_url(url).auth is not None or urlsplit(url).username is not None
    except (LocationParseError, ValueError):
        return True


def send(
    session: requests.Session,
    method: str,
    url: str,
    *,
    headers: Mapping[str, str],
    origin: str,
    seconds: float,
    max_bytes: int,
    body: bytes | None = None,
    cap_name: str = "max_response_bytes",
    max_redirects: int = DEFAULT_MAX_REDIRECTS,
    follow_redirects: bool = True,
    verify: bool | str = True,
    cert: str | tuple[str, str] | None = None,
) -> Reply:
    """One request and its redirects within ``seconds`` and ``max_bytes``; raises TransportFailure.

    ``headers`` go in full only to ``origin`` (a URL; its scheme, host and port count) and only until a hop
    leaves it. ``session`` keeps the cookie jar (cookies go where their domain says) and gets a bounded
    adapter mounted for http:// and https://. ``cap_name`` names the cap in the failure message. The reply
    and the failure carry the exchange's ``Timings``.
    """
    timings = Timings()
    try:
        reply = _exchange(session, method, url, headers=headers, origin=origin, seconds=seconds,
                          max_bytes=max_bytes, body=body, cap_name=cap_name, max_redirects=max_redirects,
                          follow_redirects=follow_redirects, verify=verify, cert=cert, timings=timings)  # fmt: skip
    except TransportFailure as failure:
        timings.enter(None)
        failure.timings = timings
        raise
    reply.timings = timings
    return reply


def _exchange(
    session: requests.Session,
    method: str,
    url: str,
    *,
    headers: Mapping[str, str],
    origin: str,
    seconds: float,
    max_bytes: int,
    body: bytes | None,
    cap_name: str,
    max_redirects: int,
    follow_redirects: bool,
    verify: bool | str,
    cert: str | tuple[str, str] | None,
    timings: Timings,
) -> Reply:
    deadline = time.monotonic() + seconds
    adapter = _bounded_adapter(session)
    home = origin_of(origin)
    trusted = home is not None and origin_of(url) == home
    redirects: list[str] = []
    visited = [url]
    while True:
        hop_headers = _headers_for_hop(headers, trusted, body is not None)
        response: requests.Response | None = None
        received = [0]
        with _Guard(deadline, timings) as guard:
            try:
                try:
                    response = _request(
                        session, adapter, method, url, hop_headers, body, deadline, verify, cert, redirects
                    )
                except (requests.RequestException, OSError) as error:
                    if not (guard.reused and not guard.fired and method in IDEMPOTENT and _stale(error)):
                        raise
                    # A kept-alive connection the server closed as we reused it: once more on a new one,
                    # as browsers do for idempotent requests.
                    guard.reused = False
                    response = _request(
                        session, adapter, method, url, hop_headers, body, deadline, verify, cert, redirects
                    )
                _check_deadline(guard)  # a head cut short by the watchdog can look complete
                location = _location(response, redirects) if follow_redirects else None
                if location is None:
                    content = _read_body(response, guard, deadline, max_bytes, cap_name, received)
                    _check_deadline(guard)  # so can a body that ends without a length
                    response._content = content  # for openapi-core, which reads .content
                    return Reply(response, content, redirects)
            except TransportFailure as failure:
                failure.response = failure.response or response
                failure.received = failure.received or received[0]
                failure.redirects = redirects
                raise
            except (
                requests.RequestException,
                urllib3.exceptions.HTTPError,
                http.client.HTTPException,
                OSError,
            ) as error:
                reason, message = classify(error, guard)
                if reason == "internal" and redirects and isinstance(error, ValueError):
                    reason, message = "redirect", _short(f"cannot follow the redirect to {url}: {error}")
                raise TransportFailure(
                    reason, message, response=response, received=received[0], redirects=redirects
                ) from None
            finally:
                if response is not None:
                    response.close()  # a redirect's body is never read: its size and encoding cost nothing
                timings.enter(None)  # the hop ends (or was cut) here
        status = response.status_code
        try:
            next_url = _next_url(url, location, redirects)
        except TransportFailure as failure:
            failure.response = response  # the redirect that arrived is on the record
            raise
        redirects.append(f"{status} {url} -> {next_url}")
        if len(redirects) > max_redirects:
            loop = " (a loop)" if next_url in visited else ""
            raise TransportFailure(
                "redirect",
                _short(f"more than {max_redirects} redirects (max_redirects){loop}: "
                       + " -> ".join([*visited[-3:], next_url])),
                response=response,
                redirects=redirects[:-1],
            )  # fmt: skip
        method, body = _redirected_method(status, method, body)
        next_origin = origin_of(next_url)
        if body is not None and (home is None or next_origin != home):
            raise TransportFailure(
                "redirect",
                _short(f"a {status} redirect to another origin ({next_url}) would re-send the request body; "
                       "not followed"),
                response=response,
                redirects=redirects[:-1],
            )  # fmt: skip
        trusted = trusted and next_origin == home
        url = next_url
        visited.append(url)


def _short(text: str, limit: int = _MESSAGE_CHARS) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _headers_for_hop(headers: Mapping[str, str], trusted: bool, has_body: bool) -> dict[str, str]:
    chosen: CaseInsensitiveDict[str] = CaseInsensitiveDict()
    for name, value in headers.items():
        lower = name.lower()
        if (trusted or lower in CROSS_ORIGIN_HEADERS) and (has_body or lower not in _BODY_HEADERS):
            chosen[name] = value
    chosen.setdefault("Accept-Encoding", ACCEPT_ENCODING)
    return dict(chosen.items())


def _request(
    session: requests.Session,
    adapter: HTTPAdapter,
    method: str,
    url: str,
    headers: Mapping[str, str],
    body: bytes | None,
    deadline: float,
    verify: bool | str,
    cert: str | tuple[str, str] | None,
    redirects: list[str],
) -> requests.Response:
    # Session.send would follow (or, with allow_redirects=False, still read) a redirect's whole body: the
    # adapter is called directly, with what Session.send would add (cookies, proxies from the environment).
    try:
        prepared = _prepare(session, method, url, headers, body)
        settings = environment_settings(session, prepared.url or url, verify, cert)
    except (ValueError, LocationParseError) as error:
        if not redirects:
            raise  # the caller checked the first URL and the headers: a bug
        # A Location only requests' own checks refuse (an IDNA host, say).
        raise TransportFailure("redirect", _short(f"cannot follow the redirect to {url}: {error}")) from None
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        raise TransportFailure("timeout", "no answer in time: the run's deadline passed before the request was sent")
    response = adapter.send(
        prepared,
        stream=True,
        timeout=(min(remaining, CONNECT_TIMEOUT_SECONDS), remaining),
        verify=settings["verify"] if settings["verify"] is not None else True,
        cert=settings["cert"],
        proxies=settings["proxies"],
    )
    extract_cookies_to_jar(session.cookies, prepared, response.raw)
    return response


def _prepare(
    session: requests.Session, method: str, url: str, headers: Mapping[str, str], body: bytes | None
) -> requests.PreparedRequest:
    """What ``session.prepare_request`` makes of the request (the session's headers merged under the request's,
    its cookie jar, ``auth``, params and hooks) without its ``~/.netrc`` lookup: credentials are the caller's
    only. ValueError (and urllib3's LocationParseError) for a URL or header requests refuses."""
    prepared = requests.PreparedRequest()
    prepared.prepare(
        method=method,
        url=url,
        headers=merge_setting(dict(headers), session.headers, dict_class=CaseInsensitiveDict),
        data=body,
        params=session.params,
        auth=session.auth,
        cookies=session.cookies,
        hooks=session.hooks,
    )
    return prepared


# The environment variables that decide the proxy of an http:// or https:// URL (urllib's getproxies_environment
# reads every ``<scheme>_proxy``, requests' select_proxy picks the URL's scheme or ``all``; urllib ignores
# HTTP_PROXY under CGI, when REQUEST_METHOD is set), and the CA bundle variables requests reads.
_PROXY_ENVIRONMENT = ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY",
                      "no_proxy", "NO_PROXY", "REQUEST_METHOD")  # fmt: skip


def environment_settings(
    session: requests.Session, url: str, verify: bool | str, cert: str | tuple[str, str] | None
) -> dict[str, Any]:
    """What ``session.merge_environment_settings(url, {}, True, verify, cert)`` returns (proxies, stream,
    verify, cert), with the environment's proxies looked up once per origin and proxy setting.

    requests scans the whole environment twice per request for ``*_proxy`` variables (~0.4 ms of a one-step
    probe's ~2 ms of CPU with 35 variables, more with more: docs/performance.md, "Where the time goes in
    /probe"); the answer depends only on the URL's scheme, host and port and on ``_PROXY_ENVIRONMENT``, so it is
    kept per (origin, those variables' values) and still follows a change of any of them. (Proxies of other
    schemes, ``ftp_proxy`` say, are left as the first lookup found them: no http:// or https:// request uses
    them.)
    """
    if not session.trust_env:
        return dict(session.merge_environment_settings(url, {}, True, verify, cert))
    parts = urlsplit(url)
    environ = os.environ
    proxies = dict(_environ_proxies(parts.scheme, parts.netloc, tuple(environ.get(n) for n in _PROXY_ENVIRONMENT)))
    chosen: bool | str | None = verify
    if verify is True or verify is None:
        chosen = environ.get("REQUESTS_CA_BUNDLE") or environ.get("CURL_CA_BUNDLE") or verify
    return {
        "proxies": merge_setting(proxies, session.proxies),
        "stream": merge_setting(True, session.stream),
        "verify": merge_setting(chosen, session.verify),
        "cert": merge_setting(cert, session.cert),
    }


@functools.lru_cache(maxsize=256)
def _environ_proxies(scheme: str, netloc: str, environment: tuple[str | None, ...]) -> tuple[tuple[str, str], ...]:
    """requests' proxies from the environment for an origin; ``environment`` is the cache key only."""
    return tuple(get_environ_proxies(f"{scheme}://{netloc}/").items())


def _check_deadline(guard: _Guard) -> None:
    if guard.fired:
        raise TransportFailure("timeout", f"no answer in time: the run's deadline passed while {guard.phase}")


def _stale(error: BaseException) -> bool:
    """Whether a request failed the way one on a connection the server had already closed does."""
    return any(
        isinstance(cause, (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError))
        for cause in _causes(error)
    )


def _location(response: requests.Response, redirects: list[str]) -> str | None:
    """The Location of a redirect to follow, or None when the response is the answer."""
    if response.status_code not in REDIRECT_STATUSES:
        return None
    values = response.raw.headers.getlist("Location") if hasattr(response.raw, "headers") else []
    if not values:
        return None  # a 3xx without a Location is an answer, as browsers and requests take it
    if len(set(values)) > 1:
        raise TransportFailure(
            "redirect", _short(f"a {response.status_code} with {len(values)} different Location headers: {values!r}")
        )
    return str(values[0])


def _next_url(current: str, location: str, redirects: list[str]) -> str:
    """The absolute URL a Location points to; a TransportFailure(redirect) when it cannot be followed."""
    with contextlib.suppress(UnicodeError):  # http.client reads header bytes as Latin-1; servers send UTF-8
        location = location.encode("latin-1").decode("utf-8")
    shown = _short(repr(location), 200)
    if any(ord(char) < 0x20 or ord(char) == 0x7F for char in location):
        raise TransportFailure("redirect", f"the Location {shown} has control characters", redirects=redirects)
    location = location.strip()
    absolute = _SCHEME.match(location)
    try:
        # An absolute Location is taken as it is: urljoin would read "http://" (no host) as the current URL.
        url = requote_uri(location if absolute else urljoin(current, location))
    except (ValueError, requests.exceptions.InvalidURL):
        raise TransportFailure("redirect", f"the Location {shown} is not a URL", redirects=redirects) from None
    scheme = url.partition(":")[0].lower() if ":" in url else ""
    if scheme not in _DEFAULT_PORTS:
        raise TransportFailure(
            "redirect",
            f"the Location {shown} leads to a {scheme or 'non'}-URL; only http:// and https:// redirects are followed",
            redirects=redirects,
        )
    if origin_of(url) is None:
        raise TransportFailure(
            "redirect", f"the Location {shown} is not a URL both URL parsers read alike", redirects=redirects
        )
    if has_userinfo(url):
        raise TransportFailure(
            "redirect", f"the Location {shown} carries credentials (user:password@); not followed", redirects=redirects
        )
    return url


def _redirected_method(status: int, method: str, body: bytes | None) -> tuple[str, bytes | None]:
    """The method and body of the next hop, by the rules browsers follow (WHATWG Fetch, "HTTP-redirect fetch")."""
    if (status == 303 and method != "HEAD") or (status in (301, 302) and method == "POST"):
        return "GET", None
    return method, body


# --- the body ----------------------------------------------------------------------------------------------


def _read_body(
    response: requests.Response, guard: _Guard, deadline: float, cap: int, cap_name: str, received: list[int]
) -> bytes:
    """The decoded body, at most ``cap`` bytes both as it arrives and decoded; ``received[0]`` counts it."""
    guard.phase = "the body was arriving"
    decoder = _Decoder(response.headers.get("Content-Encoding"), cap)
    raw = response.raw
    chunks: list[bytes] = []
    arrived = decoded = 0
    while True:
        data = (
            raw.read1(_READ_SIZE, decode_content=False)
            if hasattr(raw, "read1")
            else raw.read(_READ_SIZE, decode_content=False)
        )
        if not data:
            break
        arrived += len(data)
        piece = decoder.feed(data)
        decoded += len(piece)
        received[0] = max(arrived, decoded)
        if arrived > cap or decoded > cap:
            encoded = f" ({arrived} bytes {decoder.names} inflated to more)" if decoder.names and decoded > cap else ""
            raise TransportFailure("assertion", f"response body larger than {cap_name} ({cap} bytes){encoded}")
        chunks.append(piece)
        if time.monotonic() >= deadline:
            raise TransportFailure(
                "timeout", "no answer in time: the run's deadline passed while the body was arriving"
            )
    return b"".join(chunks)


class _Undecodable(Exception):
    pass


class _Decoder:
    """Content-Encoding (gzip, deflate, or a chain of them) decoded in steps of at most ``limit + 1`` bytes.

    Unknown codings fail as ``protocol``: we never ask for them. Trailing bytes after a complete gzip member
    that are not another member are ignored, as urllib3 and browsers do.
    """

    def __init__(self, header: str | None, limit: int) -> None:
        codings = [c.strip().lower() for c in (header or "").split(",") if c.strip()]
        codings = [c for c in codings if c != "identity"]
        unknown = [c for c in codings if c not in ("gzip", "x-gzip", "deflate")]
        if unknown or len(codings) > 2:
            reason = f"the unknown Content-Encoding {unknown[0]!r}" if unknown else f"{len(codings)} nested encodings"
            raise TransportFailure("protocol", _short(f"the body has {reason} (we ask for {ACCEPT_ENCODING})"))
        self.names = ", ".join(codings)
        self._stages = [_Inflater(c, limit) for c in reversed(codings)]

    def feed(self, data: bytes) -> bytes:
        try:
            for stage in self._stages:
                data = stage.feed(data)
        except (zlib.error, _Undecodable) as error:
            raise TransportFailure("protocol", _short(f"the body is not valid {self.names}: {error}")) from None
        return data


class _Inflater:
    def __init__(self, coding: str, limit: int) -> None:
        self._gzip = coding in ("gzip", "x-gzip")
        self._limit = limit
        self._produced = 0
        self._pending = b""  # deflate: the first bytes, until the header tells zlib from raw deflate
        self._inflate: Any = zlib.decompressobj(16 + zlib.MAX_WBITS) if self._gzip else None
        self._finished = False

    def feed(self, data: bytes) -> bytes:
        if self._finished:
            return b""
        if self._inflate is None:
            self._pending += data
            if len(self._pending) < 2:
                return b""
            first, second = self._pending[0], self._pending[1]
            wrapped = first & 0x0F == 8 and (first * 256 + second) % 31 == 0  # RFC 1950 header: zlib, else raw
            self._inflate = zlib.decompressobj(zlib.MAX_WBITS if wrapped else -zlib.MAX_WBITS)
            data, self._pending = self._pending, b""
        out = bytearray()
        while data:
            room = self._limit + 1 - self._produced - len(out)
            if room <= 0:
                break
            out += self._inflate.decompress(data, room)
            data = self._inflate.unconsumed_tail
            if self._inflate.eof:
                rest = self._inflate.unused_data + data
                if self._gzip and rest[:2] == b"\x1f\x8b":
                    self._inflate = zlib.decompressobj(16 + zlib.MAX_WBITS)
                    data = rest
                else:
                    self._finished = True
                    break
        self._produced += len(out)
        return bytes(out)


# --- failures ----------------------------------------------------------------------------------------------


def _causes(error: BaseException) -> list[BaseException]:
    """The exception and everything it wraps (urllib3 nests the real cause in ``reason`` and ``args``)."""
    found: list[BaseException] = []
    stack: list[Any] = [error]
    while stack:
        current = stack.pop()
        if not isinstance(current, BaseException) or any(current is seen for seen in found):
            continue
        found.append(current)
        stack += [current.__cause__, current.__context__, getattr(current, "reason", None), *current.args]
    return found


_PROTOCOL_ERRORS: tuple[type[BaseException], ...] = (
    http.client.HTTPException,
    urllib3.exceptions.InvalidChunkLength,
    urllib3.exceptions.IncompleteRead,
    urllib3.exceptions.InvalidHeader,
    urllib3.exceptions.HeaderParsingError,
    urllib3.exceptions.DecodeError,
    requests.exceptions.ChunkedEncodingError,
    requests.exceptions.ContentDecodingError,
)


def classify(error: BaseException, guard: _Guard | None = None) -> tuple[str, str]:
    """The failure reason and message of an error raised while talking to a target."""
    if guard is not None and guard.fired:
        return "timeout", f"no answer in time: the run's deadline passed while {guard.phase}"
    text = _short(str(error))
    causes = _causes(error)

    def first(*kinds: type[BaseException]) -> BaseException | None:
        return next((cause for cause in causes if isinstance(cause, kinds)), None)

    names = {type(cause).__name__ for cause in causes}
    too_large = first(_HeadTooLarge)
    if too_large is not None:
        return "protocol", str(too_large)
    if first(socket.gaierror) or "NameResolutionError" in names:
        return "dns", f"name does not resolve: {text}"
    if (
        first(TimeoutError)
        or isinstance(error, requests.exceptions.Timeout)
        or names & {"ConnectTimeoutError", "ReadTimeoutError"}
    ):
        return "timeout", f"no answer in time: {text}"
    if first(ssl.SSLError, ssl.CertificateError) or isinstance(error, requests.exceptions.SSLError):
        return "tls", f"TLS handshake failed: {text}"
    if first(http.client.RemoteDisconnected):
        return "connect", "connection failed: the server closed the connection without answering"
    if first(ConnectionResetError, BrokenPipeError, ConnectionAbortedError):
        return "connect", f"connection failed: the connection was reset: {text}"
    bad = first(*_PROTOCOL_ERRORS)
    if bad is not None:
        detail = _short(f"{type(bad).__name__}: {bad}", 200)
        return "protocol", f"the answer is not valid HTTP: {detail}"
    if isinstance(error, (requests.exceptions.ConnectionError, urllib3.exceptions.ProtocolError, OSError)):
        return "connect", f"connection failed: {text}"
    return "internal", f"{type(error).__name__}: {text}"


# --- the deadline: a watchdog that shuts sockets down ------------------------------------------------------


class _Guard:
    """One hop's deadline. Sockets the hop uses are watched (a duplicate of their descriptor is kept, which
    stays valid when TLS takes the socket over); at the deadline the watchdog shuts them all down."""

    def __init__(self, deadline: float, timings: Timings | None = None) -> None:
        self.at = deadline
        self.timings = timings or Timings()
        self.fired = False
        self.done = False
        self.phase = "the request was being sent"
        self.reused = False  # whether this hop sent its request on a kept-alive connection
        self.connected: list[HTTPConnection] = []  # connections this hop opened
        self._watched: list[socket.socket] = []  # duplicates of the sockets in _sources
        self._sources: list[socket.socket] = []
        self._lock = threading.Lock()
        self._token: contextvars.Token[_Guard | None] | None = None

    def remaining(self) -> float:
        return self.at - time.monotonic()

    def watch(self, sock: socket.socket) -> None:
        with self._lock:
            if self.done or sock.fileno() < 0 or any(source is sock for source in self._sources):
                return
            duplicate = socket.fromfd(sock.fileno(), sock.family, sock.type)
            self._sources.append(sock)
            self._watched.append(duplicate)
            if self.fired:
                _shutdown(duplicate)

    def fire(self) -> None:
        with self._lock:
            if self.done:
                return
            self.fired = True
            for sock in self._watched:
                _shutdown(sock)

    def __enter__(self) -> _Guard:
        self._token = _GUARD.set(self)
        _WATCHDOG.add(self)
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None) -> None:
        with self._lock:
            self.done = True
            for sock in self._watched:
                sock.close()
            self._watched.clear()
            self._sources.clear()
        if self._token is not None:
            _GUARD.reset(self._token)
        _WATCHDOG.forget()


def _shutdown(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):  # not connected yet, or already closed by the other side
        sock.shutdown(socket.SHUT_RDWR)


class _Watchdog:
    """One daemon thread firing guards at their deadlines (a heap; finished guards are dropped lazily)."""

    def __init__(self) -> None:
        self._heap: list[tuple[float, int, _Guard]] = []
        self._order = itertools.count()
        self._wake = threading.Condition()
        self._thread: threading.Thread | None = None
        self._finished = 0

    def add(self, guard: _Guard) -> None:
        with self._wake:
            heapq.heappush(self._heap, (guard.at, next(self._order), guard))
            if self._thread is None:
                self._thread = threading.Thread(target=self._loop, name="transport-watchdog", daemon=True)
                self._thread.start()
            self._wake.notify()

    def forget(self) -> None:
        with self._wake:
            self._finished += 1
            if self._finished > 64 and self._finished * 2 > len(self._heap):
                self._heap = [entry for entry in self._heap if not entry[2].done]
                heapq.heapify(self._heap)
                self._finished = 0

    def pending(self) -> int:
        """Guards not yet fired or finished (for tests: nothing leaks)."""
        with self._wake:
            return sum(1 for entry in self._heap if not entry[2].done)

    def _loop(self) -> None:
        while True:
            with self._wake:
                while self._heap and self._heap[0][2].done:
                    heapq.heappop(self._heap)
                if not self._heap:
                    self._wake.wait()
                    continue
                wait = self._heap[0][0] - time.monotonic()
                if wait > 0:  # an hour at most: a far deadline must not overflow the platform's timer
                    self._wake.wait(min(wait, 3600.0))
                    continue
                guard = heapq.heappop(self._heap)[2]
            guard.fire()


_WATCHDOG = _Watchdog()
_GUARD: contextvars.ContextVar[_Guard | None] = contextvars.ContextVar("transport_guard", default=None)


# --- connections: bounded name resolution, watched sockets, a bounded response head -----------------------


class _HeadTooLarge(http.client.HTTPException):
    def __init__(self) -> None:
        super().__init__(f"the response head (status line and headers) is larger than {MAX_RESPONSE_HEAD_BYTES} bytes")


class _HeadReader:
    """The socket file as ``http.client`` reads the head from it (``readline`` only), counting bytes."""

    def __init__(self, fp: Any) -> None:
        self._fp = fp
        self._used = 0

    def __getattr__(self, name: str) -> Any:  # close() and the rest: the socket file's own
        return getattr(self._fp, name)

    def readline(self, limit: int = -1) -> bytes:
        line: bytes = self._fp.readline(limit)
        self._used += len(line)
        if self._used > MAX_RESPONSE_HEAD_BYTES:
            raise _HeadTooLarge()
        return line


class _BoundedHTTPResponse(http.client.HTTPResponse):
    def begin(self) -> None:
        body = self.fp
        guard = _GUARD.get()
        if guard is not None and guard.timings.current == "processing":  # not a proxy's answer to CONNECT
            peek = getattr(body, "peek", None)
            # peek returns once the first byte of the answer is here, or nothing when the connection ended
            if peek is None or peek(1):
                guard.timings.enter("transfer")
        self.fp = _HeadReader(body)  # type: ignore[assignment]
        try:
            super().begin()
        finally:
            if self.fp is not None:
                self.fp = body


def _resolve(host: str, port: int, guard: _Guard) -> list[Any]:
    """getaddrinfo within the guard's deadline (it ignores socket timeouts: a thread waits for it)."""
    host = host.strip("[]")
    family = allowed_gai_family()
    try:
        ipaddress.ip_address(host)
        return socket.getaddrinfo(host, port, family, socket.SOCK_STREAM)  # a literal: no lookup
    except ValueError:
        pass
    found: list[Any] = []
    done = threading.Event()

    def lookup() -> None:
        try:
            found.append(socket.getaddrinfo(host, port, family, socket.SOCK_STREAM))
        except UnicodeError as error:
            found.append(socket.gaierror(socket.EAI_NONAME, f"{host!r} is not a valid host name: {error}"))
        except OSError as error:
            found.append(error)
        finally:
            done.set()

    threading.Thread(target=lookup, name="transport-resolve", daemon=True).start()
    if not done.wait(max(guard.remaining(), 0.0)):
        guard.fire()  # the deadline passed: what the watchdog does, now, so the failure names the phase
        raise TimeoutError(f"resolving {host} did not finish in time")
    if isinstance(found[0], BaseException):
        raise found[0]
    return list(found[0])


def _connect(conn: HTTPConnection) -> socket.socket:
    """urllib3's ``_new_conn`` with the name resolved within the deadline and the socket watched from the start."""
    guard = _GUARD.get()
    if guard is None:
        return HTTPConnection._new_conn(conn)
    timeout = conn.timeout if isinstance(conn.timeout, int | float) else None
    guard.phase = "the name was being resolved"
    guard.connected.append(conn)
    guard.reused = False
    guard.timings.enter("resolve")
    try:
        addresses = _resolve(conn._dns_host, conn.port or 80, guard)
    except socket.gaierror as error:
        raise NameResolutionError(conn.host, conn, error) from error
    except TimeoutError as error:
        raise ConnectTimeoutError(conn, f"resolving {conn.host} did not finish in time") from error
    guard.phase = "the connection was being made"
    guard.timings.enter("connect")
    failure: OSError | None = None
    for family, kind, proto, _, address in addresses:
        sock = socket.socket(family, kind, proto)
        try:
            for option in conn.socket_options or ():
                sock.setsockopt(*option)
            guard.watch(sock)
            left = guard.remaining()
            sock.settimeout(max(0.001, min(timeout, left) if timeout is not None else left))
            if conn.source_address:
                sock.bind(conn.source_address)
            sock.connect(address)
        except OSError as error:
            sock.close()
            failure = error
            continue
        tls = isinstance(conn, HTTPSConnection)
        guard.phase = "the TLS handshake ran" if tls else "the request was being sent"
        guard.timings.enter("tls" if tls else "processing")
        return sock
    if isinstance(failure, TimeoutError):
        if guard.remaining() <= 0:
            guard.fire()  # the socket's timeout was the deadline: as above, the failure names the phase
        raise ConnectTimeoutError(
            conn, f"Connection to {conn.host} timed out. (connect timeout={timeout})"
        ) from failure
    raise NewConnectionError(conn, f"Failed to establish a new connection: {failure}") from failure


def _before_request(conn: HTTPConnection) -> None:
    guard = _GUARD.get()
    if guard is not None:
        guard.phase = "the request was being sent"
        if conn.sock is not None:  # watched by this hop too (a kept-alive one, or connected for TLS just now)
            guard.watch(conn.sock)
            guard.reused = not any(opened is conn for opened in guard.connected)
            if guard.timings.current is None:  # a kept-alive connection: ready at once
                guard.timings.enter("processing")
            guard.timings.saw_certificate(getattr(conn, "cert_expires_at", None))


def _after_tls(conn: _HTTPSConnection) -> None:
    """The handshake is done: note the certificates' earliest expiry on the connection, start ``processing``."""
    conn.cert_expires_at = _earliest_expiry(conn.sock)
    guard = _GUARD.get()
    if guard is not None and guard.timings.current == "tls":
        guard.timings.enter("processing")


def _earliest_expiry(sock: Any) -> float | None:
    """The earliest ``notAfter`` (unix seconds) of the certificates the server presented, or None.

    The chain as sent comes from the SSL object's ``get_unverified_chain`` (CPython 3.10 and later; public on
    the socket from 3.13), which works without verification too; without it, the leaf that ``getpeercert``
    shows once verified. Reading it never fails the exchange: a certificate Python cannot decode is left out.
    """
    found: list[float] = []
    try:
        ssl_object = getattr(sock, "_sslobj", None)
        chain = getattr(ssl_object, "get_unverified_chain", None)
        certificates = chain() if chain is not None else None
        infos = [cert.get_info() for cert in certificates or () if hasattr(cert, "get_info")]
        if not infos and hasattr(sock, "getpeercert"):
            infos = [sock.getpeercert() or {}]
        found = [ssl.cert_time_to_seconds(info["notAfter"]) for info in infos if info.get("notAfter")]
    except (ssl.SSLError, ValueError, TypeError, AttributeError, OSError):  # instrumentation fails open
        return None
    return min(found) if found else None


def _before_head() -> None:
    guard = _GUARD.get()
    if guard is not None:
        guard.phase = "the response head was arriving"


class _HTTPConnection(HTTPConnection):
    response_class = _BoundedHTTPResponse

    def _new_conn(self) -> socket.socket:
        return _connect(self)

    def request(self, *args: Any, **kwargs: Any) -> None:
        _before_request(self)
        super().request(*args, **kwargs)

    def getresponse(self) -> Urllib3Response:  # type: ignore[override]
        _before_head()
        return super().getresponse()


class _HTTPSConnection(HTTPSConnection):
    response_class = _BoundedHTTPResponse
    cert_expires_at: float | None = None

    def _new_conn(self) -> socket.socket:
        return _connect(self)

    def connect(self) -> None:
        super().connect()
        _after_tls(self)

    def request(self, *args: Any, **kwargs: Any) -> None:
        _before_request(self)
        super().request(*args, **kwargs)

    def getresponse(self) -> Urllib3Response:  # type: ignore[override]
        _before_head()
        return super().getresponse()


class _HTTPPool(HTTPConnectionPool):
    ConnectionCls = _HTTPConnection


class _HTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _HTTPSConnection


_POOL_CLASSES = {"http": _HTTPPool, "https": _HTTPSPool}


class BoundedAdapter(HTTPAdapter):
    """requests' adapter with connections whose every phase the run's deadline bounds (proxied ones too)."""

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = _POOL_CLASSES

    def proxy_manager_for(self, proxy: str, **proxy_kwargs: Any) -> Any:
        manager = super().proxy_manager_for(proxy, **proxy_kwargs)
        if manager.pool_classes_by_scheme is urllib3.poolmanager.pool_classes_by_scheme:  # not SOCKS
            manager.pool_classes_by_scheme = _POOL_CLASSES
        return manager


def _bounded_adapter(session: requests.Session) -> HTTPAdapter:
    adapter = session.adapters.get("https://")
    if not isinstance(adapter, BoundedAdapter) or not isinstance(session.adapters.get("http://"), BoundedAdapter):
        adapter = BoundedAdapter()
        session.mount("https://", adapter)
        session.mount("http://", adapter)
    return adapter


def pending_guards() -> int:
    """Exchanges whose deadline is still being watched (for tests: every exchange lets go of its watch)."""
    return _WATCHDOG.pending()
