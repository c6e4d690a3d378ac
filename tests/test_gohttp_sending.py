"""What gofutures.http sends and how it reads a response, against requests
on the same loopback server: bodies and headers made from data, json and
headers (and refused as requests refuses them), timeouts checked as
urllib3 checks them, head() not following redirects, Response.json() by
the charset, and the Response API requests' users iterate and close."""

from __future__ import annotations

import codecs
import http.server
import io
import json
import os
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from gofutures import http as ghttp

from ._loopback import LoopbackServer
from .test_gohttp import tls_server  # noqa: F401 (a fixture)

requests = pytest.importorskip("requests")


class Echo(http.server.BaseHTTPRequestHandler):
    """Answers every request with what it received (method, headers as
    sent, body as latin-1); /redirect answers 302 to /; /body/<name>
    answers a fixed body."""

    protocol_version = "HTTP/1.1"

    def log_message(self, *args: Any) -> None:
        pass

    def _answer(self) -> None:
        if self.headers.get("Transfer-Encoding") == "chunked":
            body = b""
            while size := int(self.rfile.readline().strip(), 16):
                body += self.rfile.read(size)
                self.rfile.readline()
            self.rfile.readline()
        else:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if self.path.startswith("/redirect"):
            return self._send(302, b"", {"Location": "/"})
        if self.path.startswith("/body/"):
            content, content_type = BODIES[self.path[len("/body/"):]]
            return self._send(200, content, {"Content-Type": content_type})
        sent = {
            "method": self.command,
            # Framing aside (requests streams a generator chunked; we send
            # it whole with a Content-Length), as the server saw them.
            "headers": sorted(
                (k.lower(), v) for k, v in self.headers.items()
                if k.lower() not in ("user-agent", "content-length", "transfer-encoding")
            ),
            "has_length": "Content-Length" in self.headers or "Transfer-Encoding" in self.headers,
            "body": body.decode("latin-1"),
        }
        self._send(200, json.dumps(sent).encode(), {"Content-Type": "application/json"})

    def _send(self, code: int, body: bytes, headers: dict[str, str]) -> None:
        self.send_response(code)
        for k, v in headers.items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = do_HEAD = _answer


BODIES = {
    "latin1-json": ('{"name": "José"}'.encode("latin-1"), "application/json; charset=latin-1"),
    "utf16-json": (codecs.BOM_UTF16_LE + '{"a": "✓"}'.encode("utf-16-le"), "application/octet-stream"),
    "utf32-json": ('{"a": 1}'.encode("utf-32-be"), "application/octet-stream"),
    "lines": (b"one\ntwo\r\nthree\n\nfour", "text/plain; charset=utf-8"),
    "accents": (("héllo wörld ✓ " * 40).encode(), "text/plain; charset=utf-8"),
    "cut-utf8": (b"abc\xe2\x82", "text/plain; charset=utf-8"),  # a character cut short
}


def _serving(handler: type[http.server.BaseHTTPRequestHandler], scheme: str) -> Iterator[str]:
    """A loopback server with this handler for the module's tests: its
    address after scheme ("http://", or "" for a proxy's host:port)."""
    srv = LoopbackServer(("127.0.0.1", 0), handler)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    yield f"{scheme}127.0.0.1:{srv.server_port}"
    srv.shutdown()
    srv.server_close()


@pytest.fixture(scope="module")
def echo() -> Iterator[str]:
    yield from _serving(Echo, "http://")


def _outcome(call: Callable[[], Any]) -> Any:
    """What the server saw, or the error (class family, message)."""
    try:
        r = call()
    except ValueError as exc:  # requests' InvalidHeader, InvalidJSONError...
        return ("ValueError", str(exc))
    except TypeError as exc:
        return ("TypeError", str(exc))
    return r.json()


# (method, keywords): each a fresh value per call (files and generators are
# consumed).
SENT_AS_REQUESTS_SENDS: list[tuple[str, Callable[[], dict[str, Any]]]] = [
    ("POST", lambda: {"data": {"a": None, "b": 1, "c": [None, "x"]}}),
    ("POST", lambda: {"data": b"", "json": {"x": 1}}),
    ("POST", lambda: {"data": {}, "json": {"x": "é"}}),
    ("POST", lambda: {"json": {"x": 1}, "headers": {"Content-Type": None}}),
    ("POST", lambda: {"json": {"x": 1}, "headers": {"content-type": "application/vnd.x+json"}}),
    ("POST", lambda: {"data": {"a": "1"}, "headers": {"Content-Type": "text/x"}}),
    ("POST", lambda: {"data": io.BytesIO(b"from a file")}),
    # ASCII: requests sends a text file as UTF-8 with its length in
    # characters (a server reads one byte short per accent).
    ("POST", lambda: {"data": io.StringIO("from a text file")}),
    ("POST", lambda: {"data": (chunk for chunk in [b"gen", "é", b"!"])}),
    ("POST", lambda: {"data": bytearray(b"bytes-like")}),
    ("POST", lambda: {"data": 5}),
    ("PUT", lambda: {"data": "é Ω"}),
    ("DELETE", dict),
    ("OPTIONS", dict),
    ("GET", lambda: {"data": b""}),
    ("GET", lambda: {"headers": {"X-Bytes": b"abc", b"X-Name": "v"}}),
    ("GET", lambda: {"headers": {"X-Int": 1}}),
    ("GET", lambda: {"headers": {"X-Lead": " space"}}),
    ("GET", lambda: {"headers": {"X-Crlf": "a\r\nInjected: 1"}}),
    ("GET", lambda: {"headers": {"X Bad:Name": "v"}}),
    ("GET", lambda: {"headers": {"X-Empty": ""}}),
]


@pytest.mark.parametrize(("method", "kwargs"), SENT_AS_REQUESTS_SENDS, ids=lambda v: v if isinstance(v, str) else "")
def test_a_request_is_sent_as_requests_sends_it(echo: str, method: str, kwargs: Callable[[], dict[str, Any]]) -> None:
    want = _outcome(lambda: requests.request(method, echo, timeout=30, **kwargs()))
    got = _outcome(lambda: ghttp.request(method, echo, timeout=30, **kwargs()))
    if isinstance(want, dict):
        for sent in (want, got):
            sent["headers"] = [h for h in sent["headers"] if h[0] != "connection"]
    assert got == want


def test_a_header_value_that_is_not_latin1_is_refused_as_http_client_refuses_it(echo: str) -> None:
    with pytest.raises(UnicodeEncodeError) as want:
        requests.get(echo, headers={"X-Greek": "Ωmega"}, timeout=30)
    with pytest.raises(UnicodeEncodeError) as got:
        ghttp.get(echo, headers={"X-Greek": "Ωmega"}, timeout=30)
    assert str(got.value) == str(want.value)


def test_client_headers_set_to_none_are_not_sent(echo: str) -> None:
    session = requests.Session()
    session.headers.update({"Accept": None, "X-Base": "1"})
    client = ghttp.Client(headers={"Accept": None, "X-Base": "1"})
    want = session.get(echo, timeout=30).json()["headers"]
    got = client.get(echo, timeout=30).json()["headers"]
    assert [h for h in got if h[0] != "connection"] == [h for h in want if h[0] != "connection"]


@pytest.mark.parametrize(
    "timeout",
    [True, "5", (0, 1), (1, 2, 3), 0, -1, [1, 2], (1, "x"), float("-inf")],
    ids=repr,
)
def test_a_bad_timeout_is_refused_as_requests_refuses_it(echo: str, timeout: Any) -> None:
    with pytest.raises(ValueError) as want:
        requests.get(echo, timeout=timeout)
    with pytest.raises(ValueError) as got:
        ghttp.get(echo, timeout=timeout)
    assert str(got.value) == str(want.value)


def test_a_timeout_tuple_with_a_none_part_still_times_out(echo: str) -> None:
    # requests: no connect limit, a read limit; ours: the sum of the parts
    # given. Before, a None part turned the whole limit off.
    assert ghttp._timeout((None, 0.5)) == 0.5
    assert ghttp._timeout((2, None)) == 2
    assert ghttp._timeout((None, None)) == 0  # no limit, as in requests


def test_head_does_not_follow_redirects_unless_asked(echo: str) -> None:
    for call in (ghttp.head, ghttp.Client().head):
        assert call(echo + "/redirect", timeout=30).status_code == requests.head(echo + "/redirect").status_code == 302
        assert call(echo + "/redirect", follow_redirects=True, timeout=30).status_code == 200
        assert call(echo + "/redirect", allow_redirects=True, timeout=30).status_code == 200
    # request("HEAD", ...) follows them, as requests.request does.
    assert ghttp.request("HEAD", echo + "/redirect", timeout=30).status_code == 200
    assert requests.request("HEAD", echo + "/redirect", timeout=30).status_code == 200
    assert ghttp.get(echo + "/redirect", allow_redirects=False, timeout=30).status_code == 302


@pytest.mark.parametrize("name", ["latin1-json", "utf16-json", "utf32-json"])
def test_json_is_decoded_as_requests_decodes_it(echo: str, name: str) -> None:
    assert ghttp.get(f"{echo}/body/{name}", timeout=30).json() == requests.get(f"{echo}/body/{name}", timeout=30).json()


@pytest.mark.parametrize("name", ["lines", "accents"])
def test_iterating_a_response_agrees_with_requests(echo: str, name: str) -> None:
    want = requests.get(f"{echo}/body/{name}", timeout=30)
    with ghttp.get(f"{echo}/body/{name}", timeout=30) as got:
        assert list(got) == list(want)
        for size in (1, 7, None, 0):
            assert list(got.iter_content(size)) == list(want.iter_content(size))
            assert list(got.iter_content(size, decode_unicode=True)) == list(want.iter_content(size, decode_unicode=True))
        for size, delimiter in ((512, None), (3, None), (4, b"\n")):
            assert list(got.iter_lines(size, delimiter=delimiter)) == list(want.iter_lines(size, delimiter=delimiter))
        assert list(got.iter_lines(5, decode_unicode=True)) == list(want.iter_lines(5, decode_unicode=True))
        with pytest.raises(TypeError, match="chunk_size must be an int"):
            next(got.iter_content("1"))  # type: ignore[arg-type]


def test_is_redirect_agrees_with_requests(echo: str) -> None:
    for url in (echo + "/redirect", echo):
        want = requests.get(url, allow_redirects=False, timeout=30)
        got = ghttp.get(url, follow_redirects=False, timeout=30)
        assert (got.is_redirect, got.is_permanent_redirect) == (want.is_redirect, want.is_permanent_redirect)


def test_a_ca_bundle_from_the_environment_is_used(
    tls_server: tuple[str, str], monkeypatch: pytest.MonkeyPatch  # noqa: F811
) -> None:
    url, bundle = tls_server
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", bundle)
    assert requests.get(url + "/text", timeout=30).status_code == 200
    assert ghttp.get(url + "/text", timeout=30).status_code == 200
    monkeypatch.delenv("REQUESTS_CA_BUNDLE")
    monkeypatch.setenv("CURL_CA_BUNDLE", bundle)
    assert ghttp.get(url + "/text", timeout=30).status_code == 200


def test_allow_redirects_given_as_an_int_is_a_bool(echo: str) -> None:
    # An int went into the record as a number (Go refused it), and the
    # record cache then served that record to plain requests too.
    client = ghttp.Client()
    assert client.get(echo + "/redirect", allow_redirects=0, timeout=30).status_code == 302
    assert client.get(echo + "/redirect", allow_redirects=1, timeout=30).status_code == 200
    assert client.get(echo + "/redirect", timeout=30).status_code == 200
    assert client.get(echo + "/redirect", follow_redirects=0, timeout=30).status_code == 302


@pytest.mark.parametrize("timeout", [float("inf"), (float("inf"), 1), float("nan"), (1, float("nan"))], ids=repr)
def test_a_timeout_that_is_not_finite_fails_as_in_requests(echo: str, timeout: Any) -> None:
    with pytest.raises((ValueError, OverflowError)) as want:
        requests.get(echo, timeout=timeout)
    with pytest.raises((ValueError, OverflowError)) as got:
        ghttp.get(echo, timeout=timeout)
    assert (type(got.value), str(got.value)) == (type(want.value), str(want.value))
    assert ghttp.get(echo, timeout=1e12).status_code == 200  # past Go's longest: no limit


def test_decoding_chunks_flushes_the_decoders_tail(echo: str) -> None:
    want = requests.get(f"{echo}/body/cut-utf8", timeout=30)
    got = ghttp.get(f"{echo}/body/cut-utf8", timeout=30)
    for size in (2, 3, None):
        assert list(got.iter_content(size, decode_unicode=True)) == list(want.iter_content(size, decode_unicode=True))
    assert list(got.iter_lines(2, decode_unicode=True)) == list(want.iter_lines(2, decode_unicode=True))


def test_a_bad_ca_bundle_in_the_environment_leaves_http_alone(echo: str, monkeypatch: pytest.MonkeyPatch) -> None:
    # requests uses the environment's bundle for https only; Go loads the
    # one it is given for any scheme.
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", "/nonexistent/ca.pem")
    assert requests.get(echo, timeout=30).status_code == 200
    assert ghttp.get(echo, timeout=30).status_code == 200


class AllValues(Echo):
    """Answers with every value of each header the test names in the path
    (/User-Agent,Authorization): how many lines of it the server got."""

    def _answer(self) -> None:
        names = self.path.strip("/").split(",")
        got = {name: self.headers.get_all(name) or [] for name in names}
        self._send(200, json.dumps(got).encode(), {"Content-Type": "application/json"})

    do_GET = do_POST = _answer


@pytest.fixture(scope="module")
def all_values() -> Iterator[str]:
    yield from _serving(AllValues, "http://")


@pytest.mark.parametrize(
    ("path", "headers", "credentials"),
    [
        ("/User-Agent", {"user-agent": "bot/1"}, ""),
        ("/User-Agent", {"User-agent": "bot/1"}, ""),
        ("/Content-Type", {"content-type": "text/x"}, ""),
        ("/Authorization", {"authorization": "Bearer T"}, ""),
        # requests: the URL's credentials win over an Authorization header.
        ("/Authorization", {"authorization": "Bearer T"}, "alice:pw@"),
        ("/Authorization", {"Authorization": "Bearer T"}, "alice:pw@"),
        # No password: no Authorization (Go would send "alice:").
        ("/Authorization", {}, "alice@"),
        ("/Authorization", {}, ":@"),
        ("/Authorization", {}, ":pw@"),
        # Unquoted, then latin-1 (Go would send the UTF-8 bytes).
        ("/Authorization", {}, "alice:p%C3%A4ss@"),
        ("/Authorization", {}, "al%40ice:p%3Ass@"),
    ],
)
def test_a_header_is_sent_once_whatever_the_case_of_its_name(
    all_values: str, path: str, headers: dict[str, str], credentials: str
) -> None:
    """One line per header, the user's value, as requests sends it (names
    in any case merged; the URL's credentials as requests encodes them)."""
    url = all_values.replace("://", "://" + credentials) + path
    want = requests.post(url, headers=headers, timeout=30)
    got = ghttp.post(url, headers=headers, timeout=30)
    assert got.json() == want.json()
    assert got.url == want.url  # the credentials stay in the URL shown


class RecordingProxy(Echo):
    """A forward proxy that forwards nothing: it answers every request with
    the target it was asked for, so a response shows the request went
    through it."""

    def _answer(self) -> None:
        self._send(200, f"proxied {self.command} {self.path}".encode(), {"Content-Type": "text/plain"})

    do_GET = do_HEAD = _answer


@pytest.fixture(scope="module")
def proxy() -> Iterator[str]:
    yield from _serving(RecordingProxy, "")


def _via(call: Callable[[], Any]) -> Any:
    """The proxy's answer, or the family of the error (a host that does not
    resolve fails when the request goes direct)."""
    try:
        text = call().text
        return text if text.startswith("proxied") else "direct"
    except ValueError as exc:
        return ("ValueError", str(exc))
    except OSError:
        return "OSError"


UNRESOLVABLE = "http://example.invalid/page"

# (environment set in the program, after the interpreter started; url):
# "{proxy}" is the recording proxy's host:port, "{echo}" the echo server.
PROXY_CASES = [
    ({"HTTP_PROXY": "http://{proxy}"}, UNRESOLVABLE),
    ({"http_proxy": "{proxy}"}, UNRESOLVABLE),  # no scheme: http://
    ({"http_proxy": "http://{proxy}", "HTTP_PROXY": "http://127.0.0.1:9"}, UNRESOLVABLE),  # lower case wins
    ({"http_proxy": "", "HTTP_PROXY": "http://{proxy}"}, UNRESOLVABLE),  # an empty one removes it
    ({"ALL_PROXY": "http://{proxy}"}, UNRESOLVABLE),
    ({"HTTPS_PROXY": "http://{proxy}"}, UNRESOLVABLE),  # for https only
    ({"HTTP_PROXY": "http://{proxy}", "NO_PROXY": "example.invalid"}, UNRESOLVABLE),
    ({"HTTP_PROXY": "http://{proxy}", "no_proxy": ".invalid"}, UNRESOLVABLE),
    ({"HTTP_PROXY": "http://{proxy}", "NO_PROXY": "example.invalid:80"}, UNRESOLVABLE),
    ({"HTTP_PROXY": "http://{proxy}", "NO_PROXY": "*"}, UNRESOLVABLE),
    ({"HTTP_PROXY": "http://{proxy}", "REQUEST_METHOD": "GET"}, UNRESOLVABLE),  # CGI: ignored
    ({"http_proxy": "http://{proxy}", "REQUEST_METHOD": "GET"}, UNRESOLVABLE),  # ... but not this one
    ({"HTTP_PROXY": "http://{proxy}"}, "{echo}/"),  # a loopback host is proxied too
    ({"HTTP_PROXY": "http://{proxy}", "NO_PROXY": "127.0.0.0/8"}, "{echo}/"),
    ({"HTTP_PROXY": "localhost:3128"}, UNRESOLVABLE),  # requests reads "localhost" as a scheme
]


@pytest.mark.parametrize(("environ", "url"), PROXY_CASES)
def test_proxies_come_from_the_environment_of_each_request(
    echo: str, proxy: str, monkeypatch: pytest.MonkeyPatch, environ: dict[str, str], url: str
) -> None:
    """As requests: the environment as the program changed it, read for
    each request (Go's copy is the one of the process's start)."""
    for name in [n for n in os.environ if n.lower().endswith("_proxy") or n == "REQUEST_METHOD"]:
        monkeypatch.delenv(name)
    for name, value in environ.items():
        monkeypatch.setenv(name, value.format(proxy=proxy))
    url = url.format(echo=echo)
    want = _via(lambda: requests.get(url, timeout=10))
    assert _via(lambda: ghttp.get(url, timeout=10)) == want
    # Changed again: the next request sees it.
    monkeypatch.delenv(next(iter(environ)))
    want = _via(lambda: requests.get(url, timeout=10))
    assert _via(lambda: ghttp.get(url, timeout=10)) == want
