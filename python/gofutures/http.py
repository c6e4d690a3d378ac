"""A small requests-style HTTP client whose work happens in Go.

``get``, ``post``, ``put``, ``patch``, ``delete``, ``head`` and ``request``
send a request with Go's net/http (one shared connection pool: HTTP/1.1
keep-alive, HTTP/2 where the server offers it over TLS, proxies from the
environment) and return a ``Response`` with the whole body read.

Like gofutures.io, each works two ways: called directly, it blocks the
calling thread with the GIL released (Ctrl-C interrupts it); submitted to a
gofutures ``ThreadPoolExecutor`` (``ex.submit(http.get, url, timeout=5)``,
``ex.map(http.get, urls)``), it runs on a goroutine and takes no Python
thread, so thousands can be in flight with ``max_workers=10_000``.

Errors are the classes a user already catches: ``TimeoutError``,
``ConnectionRefusedError``, ``ConnectionResetError`` and other ``OSError``
with their errno, ``socket.gaierror`` for a name that does not resolve,
``ssl.SSLCertVerificationError``, ``ValueError`` for a malformed URL, and
``HTTPError`` (an ``OSError``) from ``Response.raise_for_status()``.

``timeout`` is in seconds for the whole exchange (connect, send, and read
the whole response), not per read as in requests; a ``(connect, read)``
tuple gives their sum.
"""

from __future__ import annotations

import datetime
import functools
import importlib
import json as _json
import urllib.parse
from collections.abc import Iterable, Iterator, Mapping, MutableMapping
from email.message import Message
from typing import Any, TypeAlias

from gofutures import _gotask, _http_url, _native

__all__ = (
    "request",
    "get",
    "post",
    "put",
    "patch",
    "delete",
    "head",
    "options",
    "Client",
    "Response",
    "Headers",
    "HTTPError",
    "TooManyRedirects",
)

USER_AGENT = "python-gofutures-http/0.1"

Params: TypeAlias = "Mapping[str, Any] | Iterable[tuple[str, Any]] | str | bytes | None"
Data: TypeAlias = "bytes | bytearray | memoryview | str | Mapping[str, Any] | Iterable[tuple[str, Any]] | None"
Timeout: TypeAlias = "float | tuple[float, float] | None"


class HTTPError(OSError):
    """An HTTP error status (``Response.raise_for_status``); ``response`` is
    the Response."""

    def __init__(self, *args: object, response: Response | None = None) -> None:
        super().__init__(*args)
        self.response = response


class TooManyRedirects(HTTPError):
    """More redirects than the client's ``max_redirects`` (30)."""


class Headers(MutableMapping[str, str]):
    """A case-insensitive dict of header values, as requests'
    CaseInsensitiveDict: the last spelling of a name set is kept, values of
    a header sent more than once are joined with ", "."""

    __slots__ = ("_store",)

    def __init__(self, data: Mapping[str, str] | Iterable[tuple[str, str]] | None = None) -> None:
        self._store: dict[str, tuple[str, str]] = {}
        if data is not None:
            self.update(data)

    def __setitem__(self, key: str, value: str) -> None:
        self._store[key.lower()] = (key, value)

    def __getitem__(self, key: str) -> str:
        return self._store[key.lower()][1]

    def __delitem__(self, key: str) -> None:
        del self._store[key.lower()]

    def __iter__(self) -> Iterator[str]:
        return (k for k, _ in self._store.values())

    def __len__(self) -> int:
        return len(self._store)

    def lower_items(self) -> Iterator[tuple[str, str]]:
        return ((k, v[1]) for k, v in self._store.items())

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Mapping):
            return NotImplemented
        return dict(self.lower_items()) == dict(Headers(other).lower_items())

    __hash__ = None  # type: ignore[assignment]

    def copy(self) -> Headers:
        h = Headers()
        h._store = self._store.copy()
        return h

    def __repr__(self) -> str:
        return str(dict(self.items()))


def _encoding_from_headers(headers: Headers) -> str | None:
    """The body's charset, as requests.utils.get_encoding_from_headers."""
    content_type = headers.get("content-type")
    if not content_type:
        return None
    msg = Message()
    msg["content-type"] = content_type
    charset = msg.get_param("charset")
    if isinstance(charset, str) and charset:
        return charset.strip("'\"")
    if "text" in content_type:
        return "ISO-8859-1"
    if "application/json" in content_type:
        return "utf-8"
    return None


_UNSET = object()


class Response:
    """A response, read whole, with requests' names for its parts.

    ``headers``, ``encoding`` and ``elapsed`` are built on first use: the
    pump completes thousands of responses a second holding the GIL, and
    most callers read only ``status_code`` and the body."""

    __slots__ = ("status_code", "reason", "content", "url", "http_version", "method",
                 "_raw_headers", "_headers", "_encoding", "_elapsed_ns", "_elapsed")

    status_code: int
    reason: str
    content: bytes
    url: str
    http_version: str
    method: str

    def __init__(self) -> None:
        # Name/value pairs, or (from Go's compact record) names and values
        # in one str, separated by _record_sep().
        self._raw_headers: tuple[tuple[str, str], ...] | str = ()
        self._headers: Headers | None = None
        self._encoding: str | None | object = _UNSET
        self._elapsed_ns = 0
        self._elapsed: datetime.timedelta | None = None

    @property
    def headers(self) -> Headers:
        """The response's headers (case-insensitive)."""
        if self._headers is None:
            raw = self._raw_headers
            if isinstance(raw, str):
                fields = iter(raw.split(_record_sep()))
                self._headers = Headers(zip(fields, fields))
            else:
                self._headers = Headers(raw)
        return self._headers

    @headers.setter
    def headers(self, value: Headers) -> None:
        self._headers = value

    @property
    def encoding(self) -> str | None:
        """The body's charset, as requests decides it from the headers;
        settable, as in requests."""
        if self._encoding is _UNSET:
            self._encoding = _encoding_from_headers(self.headers)
        return self._encoding  # type: ignore[return-value]

    @encoding.setter
    def encoding(self, value: str | None) -> None:
        self._encoding = value

    @property
    def elapsed(self) -> datetime.timedelta:
        """The time from sending the request to reading the headers."""
        if self._elapsed is None:
            self._elapsed = datetime.timedelta(microseconds=self._elapsed_ns / 1000)
        return self._elapsed

    @elapsed.setter
    def elapsed(self, value: datetime.timedelta) -> None:
        self._elapsed = value

    @property
    def ok(self) -> bool:
        """Whether the status is below 400."""
        return self.status_code < 400

    def __bool__(self) -> bool:
        return self.ok

    @property
    def text(self) -> str:
        """The body decoded by the response's charset (ISO-8859-1 for text/*
        without one), or else by ``apparent_encoding``, undecodable bytes
        replaced, as requests decodes it."""
        if not self.content:
            return ""
        encoding = self.encoding
        if encoding is None:
            encoding = self.apparent_encoding
        try:
            return str(self.content, encoding, errors="replace")  # type: ignore[arg-type]
        except (LookupError, TypeError):  # unknown, or None
            return str(self.content, "utf-8", errors="replace")

    @property
    def apparent_encoding(self) -> str | None:
        """The body's encoding as requests guesses it: chardet's guess, or
        charset_normalizer's (requests installs it), or "utf-8" with neither
        installed. Costs a pass over the body each time it is read."""
        detector = _char_detector()
        if detector is None:
            return "utf-8"
        guess: str | None = detector.detect(self.content)["encoding"]
        return guess

    def json(self, **kwargs: Any) -> Any:
        """The body parsed as JSON (json.loads' errors)."""
        return _json.loads(self.content, **kwargs)

    def raise_for_status(self) -> None:
        """Raise HTTPError for a 4xx or 5xx status, with requests' message."""
        if 400 <= self.status_code < 500:
            kind = "Client Error"
        elif 500 <= self.status_code < 600:
            kind = "Server Error"
        else:
            return
        raise HTTPError(f"{self.status_code} {kind}: {self.reason} for url: {self.url}", response=self)

    def __repr__(self) -> str:
        return f"<Response [{self.status_code}]>"


def _timeout(timeout: Timeout) -> float:
    if timeout is None:
        return 0.0
    if isinstance(timeout, tuple):
        connect, read = timeout
        return _timeout(connect) + _timeout(read) if connect is not None and read is not None else 0.0
    value = float(timeout)
    if not value > 0:
        raise ValueError(
            f"Attempted to set timeout to {timeout}, but the timeout cannot be set to a "
            "value less than or equal to 0."
        )
    return value


_DEFAULT = object()


# Every field of a request record but its URL, by the settings that make it:
# the record of a request is this prefix, the URL and "}" (a JSON encode of
# the whole record costs about 10 us of GIL time a request; this, 1 us).
_prefixes: dict[tuple[Any, ...], str] = {}
_PREFIXES_KEPT = 256
_quote = _json.encoder.encode_basestring_ascii


def _record_prefix(
    method: str,
    headers: Headers,
    timeout: float,
    follow_redirects: bool,
    max_redirects: int,
    verify: bool | str,
    max_conns_host: int,
    has_body: bool,
) -> str:
    """The request record (httpc.Request in Go) up to its "url" field."""
    pairs = tuple(headers._store.values())
    key = (method, pairs, timeout, follow_redirects, max_redirects, verify, max_conns_host, has_body)
    try:
        prefix = _prefixes.get(key)
        cacheable = True
    except TypeError:  # an unhashable header value or setting
        prefix, cacheable = None, False
    if prefix is None:
        record = {
            "method": method,
            "headers": [[k, v if type(v) is str else str(v)] for k, v in pairs],
            "timeout": timeout,
            "follow_redirects": follow_redirects,
            "max_redirects": max_redirects,
            "verify": verify is not False,
            "ca_bundle": verify if isinstance(verify, str) else "",
            "max_conns_host": max_conns_host,
            "max_idle_host": 0,
            "has_body": has_body,
        }
        prefix = _gotask.encode(record)[:-1] + ',"url":'
        if cacheable:
            if len(_prefixes) >= _PREFIXES_KEPT:
                _prefixes.clear()
            _prefixes[key] = prefix
    return prefix


def _showing_url(finish: _gotask.Finish[Response], sent: str, shown: str) -> _gotask.Finish[Response]:
    """finish, with ``Response.url`` shown as requests shows it when the
    server was sent ``sent`` (_http_url.sent_url) and did not redirect."""

    def finish_showing(status: int, meta: bytes, content: bytes) -> Response:
        response = finish(status, meta, content)
        if response.url == sent:
            response.url = shown
        return response

    return finish_showing


@functools.lru_cache(maxsize=64)
def _finisher(method: str) -> _gotask.Finish[Response]:
    """How a response to a ``method`` request becomes a Response: one
    function per method, made once (a closure per request would add three
    objects to each held future for the cyclic GC to walk)."""

    def finish(status: int, meta: bytes, content: bytes) -> Response:
        if not _gotask.ok(status):
            _gotask.raise_error(meta)
        r = Response()
        if meta[:1] == b"{":  # JSON: a field held the separator (rare)
            rec = _json.loads(meta)
            r.status_code = rec["status"]
            r.reason = rec["reason"]
            r.http_version = rec["proto"]
            r._elapsed_ns = rec["elapsed_ns"]
            r.url = rec["url"]
            r._raw_headers = tuple(map(tuple, rec["headers"]))
        else:
            # The compact record (httpc.Response.AppendRecord): the reason
            # and headers as latin-1, as http.client decodes a status line
            # and headers; the URL as UTF-8 (a query may hold it raw). The
            # headers stay one str until read (no object for the cyclic GC).
            status_code, r.reason, r.http_version, elapsed, url, *headers = meta.decode("latin-1").split(
                _record_sep(), 5
            )
            r.status_code = int(status_code)
            r._elapsed_ns = int(elapsed)
            r.url = url if url.isascii() else url.encode("latin-1").decode("utf-8", "replace")
            if headers:
                r._raw_headers = headers[0]
        r.content = content
        r.method = method
        return r

    return finish


@functools.cache
def _char_detector() -> Any:
    """chardet or charset_normalizer, as requests picks it, or None."""
    for name in ("chardet", "charset_normalizer"):
        try:
            return importlib.import_module(name)
        except ImportError:
            pass
    return None


@functools.cache  # the boundary table is read once
def _record_sep() -> str:
    """What separates the fields of a response record (boundary table)."""
    sep: str = _native.contract["http_record_sep"]
    return sep


class Client:
    """Settings shared by many requests: base headers (``headers``), a default
    ``timeout``, ``follow_redirects``, ``verify`` (False, or a CA bundle's
    path), ``max_connections`` per host (None: no limit) and
    ``max_redirects``. Clients with the same TLS and limit settings share one
    Go connection pool. The module functions use a default Client."""

    def __init__(
        self,
        *,
        headers: Mapping[str, str] | None = None,
        timeout: Timeout = None,
        follow_redirects: bool = True,
        verify: bool | str = True,
        max_connections: int | None = None,
        max_redirects: int = 30,
    ) -> None:
        self.headers: Headers = Headers(
            {"User-Agent": USER_AGENT, "Accept-Encoding": "gzip, deflate", "Accept": "*/*"}
        )
        if headers:
            self.headers.update(headers)
        self.timeout: Timeout = timeout
        self.follow_redirects: bool = follow_redirects
        self.verify: bool | str = verify
        self.max_connections: int | None = max_connections
        self.max_redirects: int = max_redirects

    def _prepare(
        self,
        method: str,
        url: str,
        *,
        params: Params = None,
        headers: Mapping[str, str | None] | None = None,
        data: Data = None,
        json: Any = None,
        timeout: Any = _DEFAULT,
        follow_redirects: bool | None = None,
        verify: bool | str | None = None,
    ) -> _gotask.GoCall[Response]:
        if not isinstance(url, str):
            url = url.decode() if isinstance(url, bytes) else str(url)
        url = url.lstrip()  # as requests: trailing blanks are sent, encoded
        url = _http_url.request_url(url, params)
        finish = _finisher(method)
        sent = url
        if params and isinstance(params, str | bytes):
            sent = _http_url.sent_url(url)
            if sent != url:
                finish = _showing_url(finish, sent, url)
        method = method.upper() if isinstance(method, str) else method.decode().upper()
        merged = self.headers  # copied below before a change
        body: bytes | None = None
        content_type = None
        if data is not None and data != {} and data != []:
            if isinstance(data, bytes | bytearray | memoryview):
                body = bytes(data)
            elif isinstance(data, str):
                body = data.encode()
            else:
                items = list(data.items()) if isinstance(data, Mapping) else list(data)
                body = urllib.parse.urlencode(items, doseq=True).encode()
                content_type = "application/x-www-form-urlencoded"
        elif json is not None:
            body = _json.dumps(json, allow_nan=False).encode()
            content_type = "application/json"
        if content_type is not None or headers:
            merged = merged.copy()
        if content_type is not None:
            merged["Content-Type"] = content_type
        if headers:
            for k, v in headers.items():
                if v is None:
                    merged.pop(k, None)
                else:
                    merged[k] = v
        if body is None and method not in ("GET", "HEAD", "OPTIONS"):
            body = b""  # Content-Length: 0, as requests sends
        verify = self.verify if verify is None else verify
        record = _record_prefix(
            method,
            merged,
            _timeout(self.timeout if timeout is _DEFAULT else timeout),
            self.follow_redirects if follow_redirects is None else follow_redirects,
            self.max_redirects,
            verify,
            self.max_connections or 0,
            body is not None,
        ) + _quote(sent) + "}"

        return _gotask.GoCall("HTTP", record, body or b"", finish)

    def request(self, method: str, url: str, **kwargs: Any) -> Response:
        """Send a request (keywords: params, headers, data, json, timeout,
        follow_redirects, verify)."""
        return _gotask.call(self._prepare(method, url, **kwargs))

    def get(self, url: str, **kwargs: Any) -> Response:
        return self.request("GET", url, **kwargs)

    def head(self, url: str, **kwargs: Any) -> Response:
        return self.request("HEAD", url, **kwargs)

    def options(self, url: str, **kwargs: Any) -> Response:
        return self.request("OPTIONS", url, **kwargs)

    def post(self, url: str, data: Data = None, json: Any = None, **kwargs: Any) -> Response:
        return self.request("POST", url, data=data, json=json, **kwargs)

    def put(self, url: str, data: Data = None, **kwargs: Any) -> Response:
        return self.request("PUT", url, data=data, **kwargs)

    def patch(self, url: str, data: Data = None, **kwargs: Any) -> Response:
        return self.request("PATCH", url, data=data, **kwargs)

    def delete(self, url: str, **kwargs: Any) -> Response:
        return self.request("DELETE", url, **kwargs)


# Bound Client methods are Go tasks too (ex.submit(client.get, url)): each
# method's preparer takes the same arguments, after the client.
_CLIENT_PREPARERS: dict[Any, Any] = {
    Client.request: lambda c, method, url, **kw: c._prepare(method, url, **kw),
    Client.get: lambda c, url, **kw: c._prepare("GET", url, **kw),
    Client.head: lambda c, url, **kw: c._prepare("HEAD", url, **kw),
    Client.options: lambda c, url, **kw: c._prepare("OPTIONS", url, **kw),
    Client.post: lambda c, url, data=None, json=None, **kw: c._prepare(
        "POST", url, data=data, json=json, **kw
    ),
    Client.put: lambda c, url, data=None, **kw: c._prepare("PUT", url, data=data, **kw),
    Client.patch: lambda c, url, data=None, **kw: c._prepare("PATCH", url, data=data, **kw),
    Client.delete: lambda c, url, **kw: c._prepare("DELETE", url, **kw),
}
for _method, _preparer in _CLIENT_PREPARERS.items():
    _gotask.go_function(_preparer)(_method)
del _method, _preparer

_default = Client()


def _prepare_request(method: str, url: str, **kwargs: Any) -> _gotask.GoCall[Response]:
    return _default._prepare(method, url, **kwargs)


@_gotask.go_function(_prepare_request)
def request(method: str, url: str, **kwargs: Any) -> Response:
    """Send a request with the default Client (keywords: params, headers,
    data, json, timeout, follow_redirects, verify)."""
    return _gotask.call(_prepare_request(method, url, **kwargs))


def _prepare_get(url: str, **kwargs: Any) -> _gotask.GoCall[Response]:
    return _default._prepare("GET", url, **kwargs)


@_gotask.go_function(_prepare_get)
def get(url: str, **kwargs: Any) -> Response:
    """GET url (see request)."""
    return _gotask.call(_prepare_get(url, **kwargs))


def _prepare_head(url: str, **kwargs: Any) -> _gotask.GoCall[Response]:
    return _default._prepare("HEAD", url, **kwargs)


@_gotask.go_function(_prepare_head)
def head(url: str, **kwargs: Any) -> Response:
    """HEAD url (see request)."""
    return _gotask.call(_prepare_head(url, **kwargs))


def _prepare_options(url: str, **kwargs: Any) -> _gotask.GoCall[Response]:
    return _default._prepare("OPTIONS", url, **kwargs)


@_gotask.go_function(_prepare_options)
def options(url: str, **kwargs: Any) -> Response:
    """OPTIONS url (see request)."""
    return _gotask.call(_prepare_options(url, **kwargs))


def _prepare_post(url: str, data: Data = None, json: Any = None, **kwargs: Any) -> _gotask.GoCall[Response]:
    return _default._prepare("POST", url, data=data, json=json, **kwargs)


@_gotask.go_function(_prepare_post)
def post(url: str, data: Data = None, json: Any = None, **kwargs: Any) -> Response:
    """POST url with data (bytes, str or a form) or json (see request)."""
    return _gotask.call(_prepare_post(url, data, json, **kwargs))


def _prepare_put(url: str, data: Data = None, **kwargs: Any) -> _gotask.GoCall[Response]:
    return _default._prepare("PUT", url, data=data, **kwargs)


@_gotask.go_function(_prepare_put)
def put(url: str, data: Data = None, **kwargs: Any) -> Response:
    """PUT url (see post)."""
    return _gotask.call(_prepare_put(url, data, **kwargs))


def _prepare_patch(url: str, data: Data = None, **kwargs: Any) -> _gotask.GoCall[Response]:
    return _default._prepare("PATCH", url, data=data, **kwargs)


@_gotask.go_function(_prepare_patch)
def patch(url: str, data: Data = None, **kwargs: Any) -> Response:
    """PATCH url (see post)."""
    return _gotask.call(_prepare_patch(url, data, **kwargs))


def _prepare_delete(url: str, **kwargs: Any) -> _gotask.GoCall[Response]:
    return _default._prepare("DELETE", url, **kwargs)


@_gotask.go_function(_prepare_delete)
def delete(url: str, **kwargs: Any) -> Response:
    """DELETE url (see request)."""
    return _gotask.call(_prepare_delete(url, **kwargs))
