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
tuple gives their sum (a None part adds nothing; both None: no limit).
"""

from __future__ import annotations

import codecs
import datetime
import functools
import importlib
import json as _json
import math
import os
import re
from collections.abc import Iterable, Iterator, Mapping, MutableMapping
from email.message import Message
from typing import Any, Self, TypeAlias

from gofutures import _gotask, _http_proxy, _http_url, _native

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


def _decoded(chunks: Iterator[bytes], encoding: str) -> Iterator[str]:
    """chunks decoded incrementally, empty pieces left out, the decoder's
    tail last (requests' stream_decode_response_unicode)."""
    decoder = codecs.getincrementaldecoder(encoding)(errors="replace")
    for chunk in chunks:
        if text := decoder.decode(chunk):
            yield text
    if tail := decoder.decode(b"", final=True):
        yield tail


def _json_utf(data: bytes) -> str | None:
    """The UTF a JSON body is in, from a BOM or where its first bytes hold
    nulls (JSON starts with two ASCII characters): requests'
    guess_json_utf."""
    sample = data[:4]
    if sample in (codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE):
        return "utf-32"
    if sample[:3] == codecs.BOM_UTF8:
        return "utf-8-sig"
    if sample[:2] in (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE):
        return "utf-16"
    nulls = sample.count(0)
    if nulls == 0:
        return "utf-8"
    if nulls == 2:
        if sample[::2] == b"\0\0":
            return "utf-16-be"
        if sample[1::2] == b"\0\0":
            return "utf-16-le"
    if nulls == 3:
        if sample[:3] == b"\0\0\0":
            return "utf-32-be"
        if sample[1:] == b"\0\0\0":
            return "utf-32-le"
    return None


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
        """Whether raise_for_status() passes: the status is not 4xx or 5xx
        (as in requests, a status of 600 or more is ok)."""
        return not 400 <= self.status_code < 600

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
        """The body parsed as JSON (json.JSONDecodeError, a ValueError, if
        it is not): decoded by the response's charset, or without one as
        requests guesses a JSON body's UTF (a BOM, or where the nulls are)."""
        content = self.content
        if not self.encoding and len(content) > 3:
            encoding = _json_utf(content)
            if encoding is not None:
                try:
                    return _json.loads(content.decode(encoding), **kwargs)
                except UnicodeDecodeError:
                    pass
        return _json.loads(self.text, **kwargs)

    def iter_content(self, chunk_size: int | None = 1, decode_unicode: bool = False) -> Iterator[Any]:
        """The body in pieces of chunk_size bytes (all of it at once for None
        or less than 1), as str when decode_unicode and the response has an
        encoding, as requests does once a body is read."""
        if chunk_size is not None and not isinstance(chunk_size, int):
            raise TypeError(f"chunk_size must be an int, it is instead a {type(chunk_size)}.")
        content = self.content
        size = len(content) if chunk_size is None or chunk_size <= 0 else chunk_size
        chunks = (content[i : i + size] for i in range(0, len(content), size))
        if not decode_unicode or self.encoding is None:
            return chunks
        return _decoded(chunks, self.encoding)

    def iter_lines(
        self, chunk_size: int = 512, decode_unicode: bool = False, delimiter: str | bytes | None = None
    ) -> Iterator[Any]:
        """The body line by line (requests' iter_lines, over the read body)."""
        pending = None
        for chunk in self.iter_content(chunk_size=chunk_size, decode_unicode=decode_unicode):
            if pending is not None:
                chunk = pending + chunk
            lines = chunk.split(delimiter) if delimiter else chunk.splitlines()
            if lines and lines[-1] and chunk and lines[-1][-1] == chunk[-1]:
                pending = lines.pop()
            else:
                pending = None
            yield from lines
        if pending is not None:
            yield pending

    def __iter__(self) -> Iterator[bytes]:
        """The body in pieces of 128 bytes, as iterating a requests Response."""
        return self.iter_content(128)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *args: object) -> None:
        self.close()

    def close(self) -> None:
        """Nothing to release: the body is read whole and the connection is
        back in Go's pool (kept for requests' API)."""

    @property
    def is_redirect(self) -> bool:
        """Whether this is a redirect that could be followed (a 3xx with a
        Location), as in requests."""
        return "location" in self.headers and self.status_code in (301, 302, 303, 307, 308)

    @property
    def is_permanent_redirect(self) -> bool:
        """Whether this is a 301 or 308 with a Location."""
        return "location" in self.headers and self.status_code in (301, 308)

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
    """Seconds for the whole exchange (0: no limit) from requests' timeout:
    a number, None, or a (connect, read) tuple, whose parts are added up (a
    None part adds nothing). Invalid ones raise requests' ValueError."""
    if timeout is None:
        return 0.0
    if isinstance(timeout, float | int) and type(timeout) is not bool and 0 < timeout < _LONGEST_TIMEOUT:
        return float(timeout)  # the usual one
    if isinstance(timeout, tuple):
        try:
            connect, read = timeout
            total = _seconds(connect, "connect") + _seconds(read, "read")
        except ValueError:
            raise ValueError(
                f"Invalid timeout {timeout}. Pass a (connect, read) timeout tuple, or a single "
                "float to set both timeouts to the same value."
            ) from None
        return _limit(total)
    return _limit(_seconds(timeout, "connect"))


def _seconds(value: Any, name: str) -> float:
    """One timeout value checked as urllib3 checks it (None: 0)."""
    if value is None:
        return 0.0
    if isinstance(value, float) and (math.isnan(value) or value == math.inf):
        return value  # urllib3 lets them by; _limit refuses them as the socket does
    if isinstance(value, bool):
        raise ValueError("Timeout cannot be a boolean value. It must be an int, float or None.")  # noqa: TRY004 (urllib3's class)
    try:
        seconds = float(value)
        positive = value > 0
    except (TypeError, ValueError):
        raise ValueError(f"Timeout value {name} was {value}, but it must be an int, float or None.") from None
    if not positive:
        raise ValueError(
            f"Attempted to set {name} timeout to {value}, but the timeout cannot be set to a "
            "value less than or equal to 0."
        )
    return seconds


def _limit(seconds: float) -> float:
    """The record's timeout: NaN and infinity refused as requests' socket
    refuses them; past Go's longest duration (about 292 years), no limit."""
    if math.isnan(seconds):
        raise ValueError("Invalid value NaN (not a number)")
    if seconds == math.inf:
        raise OverflowError("timestamp out of range for platform time_t")
    return seconds if seconds < _LONGEST_TIMEOUT else 0.0


_LONGEST_TIMEOUT = (2**63 - 1) / 1e9


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
    proxy: _http_proxy.Settings | None,
) -> str:
    """The request record (httpc.Request in Go) up to its "url" field."""
    pairs = tuple(headers._store.values())
    key = (method, pairs, timeout, follow_redirects, max_redirects, verify, max_conns_host, has_body, proxy)
    try:
        prefix = _prefixes.get(key)
        cacheable = True
    except TypeError:  # an unhashable header value or setting
        prefix, cacheable = None, False
    if prefix is None:
        record = {
            "method": method,
            "headers": [_header(k, v) for k, v in pairs if v is not None],
            "timeout": timeout,
            "follow_redirects": follow_redirects,
            "max_redirects": max_redirects,
            "verify": bool(verify),  # as requests: any false value (0, "") turns checking off
            "ca_bundle": verify if isinstance(verify, str) else "",
            "max_conns_host": max_conns_host,
            "max_idle_host": 0,
            "has_body": has_body,
            "proxy": None if proxy is None else dict(zip(_http_proxy.FIELDS, proxy, strict=True)),
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


# requests' header checks (requests._internal_utils): no leading blank, no
# ":" in a name, no CR or LF anywhere.
_VALID_NAME = re.compile(r"[^:\s][^:\r\n]*\Z")
_VALID_VALUE = re.compile(r"(\S[^\r\n]*)?\Z")


def _header(name: Any, value: Any) -> list[str]:
    """A header as the record carries it, checked as requests and
    http.client check it (ValueError, or UnicodeEncodeError for a value
    that is not Latin-1): [name, value], bytes decoded as Latin-1 (Go
    sends the value's characters as Latin-1 bytes)."""
    pair = []
    for part, valid, kind in ((name, _VALID_NAME, "name"), (value, _VALID_VALUE, "value")):
        if isinstance(part, bytes):
            part = part.decode("latin-1")
        elif not isinstance(part, str):
            raise ValueError(  # noqa: TRY004 (requests' InvalidHeader is a ValueError)
                f"Header part ({part!r}) from {(name, value)} must be of type str or bytes, not {type(part)}"
            )
        if not valid.match(part):
            raise ValueError(
                "Invalid leading whitespace, reserved character(s), or return character(s) in "
                f"header {kind}: {part!r}"
            )
        pair.append(part)
    pair[0].encode("ascii")  # http.client's errors
    pair[1].encode("latin-1")
    return pair


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


def _environment_ca_bundle() -> str | None:
    """The CA bundle requests takes from the environment for an https URL
    (trust_env): REQUESTS_CA_BUNDLE, else CURL_CA_BUNDLE. Only https URLs
    look (as requests uses it only for them; Go would load it for any, and
    a bad path would fail plain http too), so an http URL redirected to
    https is verified with the system's certificates."""
    env = os.environ
    for name in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"):
        if name in env:  # no KeyError raised inside, as get() does for a miss
            value = env[name]
            if value:
                return value
    return None


def _body(data: Any, json: Any) -> tuple[bytes | None, str | None]:
    """The body and Content-Type requests makes of data and json (its
    PreparedRequest.prepare_body): json when data is empty; a file or an
    iterator read whole (requests streams it: sent with a Content-Length
    here, not chunked); a form (a mapping or pairs; None values left out)
    urlencoded; str as UTF-8."""
    if data is None:  # the usual request: no hasattr() misses (an exception each)
        return (None, None) if json is None else (_json.dumps(json, allow_nan=False).encode(), "application/json")
    if not data and json is not None:
        return _json.dumps(json, allow_nan=False).encode(), "application/json"
    if isinstance(data, bytes):
        return (data or None), None
    if isinstance(data, str):
        return (data.encode() or None), None
    if isinstance(data, bytearray | memoryview):
        return bytes(data), None
    if hasattr(data, "read"):
        content = data.read()
        return (content.encode() if isinstance(content, str) else bytes(content)), None
    if hasattr(data, "__iter__") and not isinstance(data, list | tuple | Mapping):
        return b"".join(c.encode() if isinstance(c, str) else bytes(c) for c in data), None
    if not data:
        return None, None
    if not hasattr(data, "__iter__"):
        raise TypeError(
            f"'body' must be a bytes-like object, file-like object, or iterable. Instead was {data!r}"
        )
    return _http_url.encode_params(data).encode(), "application/x-www-form-urlencoded"


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
        allow_redirects: bool | None = None,
    ) -> _gotask.GoCall[Response]:
        if not isinstance(url, str):
            url = url.decode() if isinstance(url, bytes) else str(url)
        url = url.lstrip()  # as requests: trailing blanks are sent, encoded
        url = _http_url.request_url(url, params)
        finish = _finisher(method)
        sent = url
        if params and isinstance(params, str | bytes) and not _http_url.plain_query(params):
            sent = _http_url.sent_url(url)
            if sent != url:
                finish = _showing_url(finish, sent, url)
        method = method.upper() if isinstance(method, str) else method.decode().upper()
        body, content_type = _body(data, json)
        merged = self.headers  # copied below before a change
        if headers:
            merged = merged.copy()
            for k, v in headers.items():
                if v is None:
                    merged.pop(k, None)
                else:
                    merged[k] = v
        if "@" in sent:  # user info, maybe: requests' Basic auth wins over the headers
            authorization, without = _http_url.basic_auth_from_url(sent)
            if authorization is not None:
                merged = merged.copy() if merged is self.headers else merged
                merged["Authorization"] = authorization
            elif without != sent:
                finish = _showing_url(finish, without, url)
                sent = without
        if content_type is not None and merged.get("Content-Type") is None:  # the user's wins
            merged = merged.copy() if merged is self.headers else merged
            merged["Content-Type"] = content_type
        if body is None and method not in ("GET", "HEAD"):
            body = b""  # Content-Length: 0, as requests sends
        verify = self.verify if verify is None else verify
        if verify is True and url.startswith("https:"):
            verify = _environment_ca_bundle() or True
        if follow_redirects is None:
            follow_redirects = self.follow_redirects if allow_redirects is None else allow_redirects
        follow_redirects = bool(follow_redirects)
        record = _record_prefix(
            method,
            merged,
            _timeout(self.timeout if timeout is _DEFAULT else timeout),
            follow_redirects,
            self.max_redirects,
            verify,
            self.max_connections or 0,
            body is not None,
            _http_proxy.settings(),  # as requests, the environment of each request
        ) + _quote(sent) + "}"

        return _gotask.GoCall("HTTP", record, body or b"", finish)

    def request(self, method: str, url: str, **kwargs: Any) -> Response:
        """Send a request (keywords: params, headers, data, json, timeout,
        follow_redirects, verify)."""
        return _gotask.call(self._prepare(method, url, **kwargs))

    def get(self, url: str, **kwargs: Any) -> Response:
        return self.request("GET", url, **kwargs)

    def head(self, url: str, **kwargs: Any) -> Response:
        """HEAD url; redirects are not followed unless asked (as requests.head)."""
        return self.request("HEAD", url, **_head_keywords(kwargs))

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


def _head_keywords(kwargs: dict[str, Any]) -> dict[str, Any]:
    """head()'s keywords: requests.head follows no redirect unless asked
    (``request("HEAD", ...)`` does, as in requests)."""
    if "follow_redirects" not in kwargs and "allow_redirects" not in kwargs:
        kwargs["follow_redirects"] = False
    return kwargs


# Bound Client methods are Go tasks too (ex.submit(client.get, url)): each
# method's preparer takes the same arguments, after the client.
_CLIENT_PREPARERS: dict[Any, Any] = {
    Client.request: lambda c, method, url, **kw: c._prepare(method, url, **kw),
    Client.get: lambda c, url, **kw: c._prepare("GET", url, **kw),
    Client.head: lambda c, url, **kw: c._prepare("HEAD", url, **_head_keywords(kw)),
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
    return _default._prepare("HEAD", url, **_head_keywords(kwargs))


@_gotask.go_function(_prepare_head)
def head(url: str, **kwargs: Any) -> Response:
    """HEAD url, not following redirects unless asked, as requests.head
    (see request)."""
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
