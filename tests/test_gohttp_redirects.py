"""gofutures.http follows redirects as requests does, and sends and reads
what requests sends and reads, on loopback servers started here: two plain
HTTP servers on two ports and a TLS one, each echoing the request it got
(method, path, headers as received, body) or redirecting where told."""

from __future__ import annotations

import http.server
import json
import shutil
import ssl
import subprocess
import threading
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from gofutures import http as ghttp

from ._loopback import LoopbackServer

requests = pytest.importorskip("requests")
trustme = pytest.importorskip("trustme")


class Echo(http.server.BaseHTTPRequestHandler):
    """/redirect/<status>?loc=<Location>[&cookie=<Set-Cookie>...]: that
    redirect; /hops/<n>: n redirects, then the echo; /short, /shortchunked:
    a body cut short; anything else: the request as JSON."""

    protocol_version = "HTTP/1.1"

    def log_message(self, *args: Any) -> None:
        pass

    def _reply(self, code: int, body: bytes, headers: list[tuple[str, str]]) -> None:
        self.send_response(code)
        for k, v in headers:
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _cut_short(self, head: bytes, body: bytes) -> None:
        self.wfile.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n" + head + b"\r\n" + body)
        self.close_connection = True

    def _handle(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        path, _, query = self.path.partition("?")
        args = urllib.parse.parse_qs(query)
        parts = path.strip("/").split("/")
        if parts[0] == "redirect":
            cookies = [("Set-Cookie", c) for c in args.get("cookie", [])]
            self._reply(int(parts[1]), b"", [("Location", args["loc"][0]), *cookies])
        elif parts[0] == "hops" and int(parts[1]) > 0:
            self._reply(302, b"", [("Location", f"/hops/{int(parts[1]) - 1}")])
        elif parts[0] == "short":
            self._cut_short(b"Content-Length: 10\r\n", b"abc")
        elif parts[0] == "shortchunked":
            self._cut_short(b"Transfer-Encoding: chunked\r\n", b"5\r\nhello\r\n")
        else:
            echo = {
                "method": self.command,
                "path": self.path,
                "headers": sorted([k.lower(), v] for k, v in self.headers.items()),
                "body": body.decode("latin-1"),
            }
            self._reply(200, json.dumps(echo).encode(), [("Content-Type", "application/json")])

    do_GET = do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = do_PROPFIND = _handle


Server = LoopbackServer


@dataclass
class Servers:
    a: str  # http://127.0.0.1:<port a>
    b: str  # http://127.0.0.1:<port b>
    tls: str  # https://127.0.0.1:<port c>
    ca: trustme.CA
    bundle: str  # the CA of tls, a PEM file


def _start(srv: Server) -> None:
    threading.Thread(target=srv.serve_forever, daemon=True).start()


@pytest.fixture(scope="module")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Servers]:
    ca = trustme.CA()
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1", "localhost").configure_cert(ctx)
    bundle = tmp_path_factory.mktemp("ca") / "ca.pem"
    ca.cert_pem.write_to_path(str(bundle))
    plain = [Server(("127.0.0.1", 0), Echo) for _ in range(2)]
    tls = Server(("127.0.0.1", 0), Echo)
    tls.socket = ctx.wrap_socket(tls.socket, server_side=True)
    for srv in [*plain, tls]:
        _start(srv)
    a, b = (f"http://127.0.0.1:{srv.server_port}" for srv in plain)
    yield Servers(a, b, f"https://127.0.0.1:{tls.server_port}", ca, str(bundle))
    for srv in [*plain, tls]:
        srv.shutdown()
        srv.server_close()


def _to(status: int, location: str, *cookies: str) -> str:
    """The path of a redirect to location (setting cookies)."""
    query = urllib.parse.urlencode([("loc", location), *(("cookie", c) for c in cookies)])
    return f"/redirect/{status}?{query}"


def _both(method: str, url: str, **kwargs: Any) -> tuple[Any, Any]:
    """requests' response and ours to the same request."""
    want = requests.request(method, url, timeout=30, **kwargs)
    got = ghttp.request(method, url, timeout=30, **kwargs)
    return got, want


def _sent(response: Any, *names: str) -> dict[str, Any]:
    """What the server got: its method, path and body, and the values of
    the headers named (lower case; None when not sent)."""
    echo = response.json()
    headers = dict(map(tuple, echo["headers"]))
    sent = {"method": echo["method"], "path": echo["path"], "body": echo["body"]}
    return sent | {name: headers.get(name) for name in names}


# ---- the redirect limit ----

@pytest.mark.parametrize("limit", [30, 3, 0])
def test_the_redirect_limit_and_its_message_are_requests(servers: Servers, limit: int) -> None:
    session = requests.Session()
    session.max_redirects = limit
    client = ghttp.Client(max_redirects=limit, timeout=30)
    assert client.get(f"{servers.a}/hops/{limit}").url == session.get(f"{servers.a}/hops/{limit}").url
    with pytest.raises(requests.TooManyRedirects) as want:
        session.get(f"{servers.a}/hops/{limit + 1}", timeout=30)
    with pytest.raises(ghttp.TooManyRedirects) as got:
        client.get(f"{servers.a}/hops/{limit + 1}")
    assert str(got.value) == str(want.value) == f"Exceeded {limit} redirects."


# ---- Authorization on a redirect (requests' should_strip_auth) ----

AUTH_REDIRECTS = [
    ("same server", lambda s: s.a + _to(302, "/echo")),
    ("absolute, same server", lambda s: s.a + _to(302, s.a + "/echo")),
    ("other port", lambda s: s.a + _to(302, s.b + "/echo")),
    ("other host name", lambda s: s.a + _to(302, s.a.replace("127.0.0.1", "localhost") + "/echo")),
    ("http to https, other port", lambda s: s.a + _to(302, s.tls + "/echo")),
    ("https to http", lambda s: s.tls + _to(302, s.a + "/echo")),
    ("away and back", lambda s: s.a + _to(302, s.b + _to(302, s.a + "/echo"))),
    ("307", lambda s: s.a + _to(307, s.b + "/echo")),
]


@pytest.mark.parametrize(("name", "url"), AUTH_REDIRECTS, ids=[c[0] for c in AUTH_REDIRECTS])
@pytest.mark.parametrize("spelling", ["Authorization", "authorization"])
def test_authorization_is_kept_or_dropped_as_requests_does(servers: Servers, name: str, url: Any,
                                                            spelling: str) -> None:
    got, want = _both("GET", url(servers), headers={spelling: "Bearer secret"}, verify=servers.bundle)
    assert _sent(got, "authorization") == _sent(want, "authorization")


# ---- the method, body and body headers of the next hop ----

@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH", "DELETE", "OPTIONS"])
def test_a_redirect_changes_the_method_as_requests_does(servers: Servers, method: str, status: int) -> None:
    got, want = _both(method, servers.a + _to(status, "/echo"), data=b"payload",
                      headers={"Content-Type": "text/x", "Content-Language": "en"})
    names = ("content-length", "content-type", "content-language", "transfer-encoding")
    assert _sent(got, *names) == _sent(want, *names)


# ---- Referer ----

@pytest.mark.parametrize("headers", [{}, {"Referer": "http://mine/"}, {"referer": "http://mine/"}], ids=str)
@pytest.mark.parametrize("to", ["same server", "other server"])
def test_no_referer_is_added_on_a_redirect(servers: Servers, headers: dict[str, str], to: str) -> None:
    target = "/echo" if to == "same server" else servers.b + "/echo"
    got, want = _both("GET", servers.a + _to(302, target) + "#frag", headers=headers)
    assert _sent(got, "referer") == _sent(want, "referer")


# ---- the URL's fragment ----

FRAGMENTS = [
    ("carried over", lambda s: s.a + _to(302, "/echo") + "#frag"),
    ("escaped", lambda s: s.a + _to(302, "/echo") + "#a b%41é"),
    ("replaced", lambda s: s.a + _to(302, "/echo#new") + "#old"),
    ("carried over from a hop", lambda s: s.a + _to(302, _to(301, "/echo#hop")) + "#old"),
    ("to another server", lambda s: s.a + _to(302, s.b + "/echo") + "#frag"),
    ("empty in the Location", lambda s: s.a + _to(302, "/echo#") + "#frag"),
    ("none", lambda s: s.a + _to(302, "/echo")),
]


@pytest.mark.parametrize(("name", "url"), FRAGMENTS, ids=[c[0] for c in FRAGMENTS])
def test_the_fragment_is_carried_over_as_requests_does(servers: Servers, name: str, url: Any) -> None:
    got, want = _both("GET", url(servers))
    assert (got.url, _sent(got)) == (want.url, _sent(want))


# ---- cookies set by a redirect ----

COOKIES = [
    ("path /", lambda s: s.a + _to(302, "/echo", "a=1; Path=/")),
    ("two", lambda s: s.a + _to(302, "/echo", "a=1; Path=/", "b=2; Path=/")),
    ("default path", lambda s: s.a + _to(302, "/echo", "a=1")),
    ("path matching", lambda s: s.a + _to(302, "/redirect/302?loc=/echo", "a=1")),
    ("to another server", lambda s: s.a + _to(302, s.b + "/echo", "a=1; Path=/")),
    ("to another host name", lambda s: s.a + _to(302, s.a.replace("127.0.0.1", "localhost") + "/echo",
                                                 "a=1; Path=/")),
    ("kept over hops", lambda s: s.a + _to(302, _to(302, "/echo", "b=2; Path=/"), "a=1; Path=/")),
    ("expired", lambda s: s.a + _to(302, _to(302, "/echo", "a=; Path=/; Max-Age=0"), "a=1; Path=/")),
]


@pytest.mark.parametrize(("name", "url"), COOKIES, ids=[c[0] for c in COOKIES])
def test_a_cookie_set_by_a_redirect_is_sent_as_requests_sends_it(servers: Servers, name: str, url: Any) -> None:
    got, want = _both("GET", url(servers))
    assert _sent(got, "cookie") == _sent(want, "cookie")
    assert "a=1" not in str(ghttp.get(servers.a + "/echo", timeout=30).json()), "no cookie outlives its request"


# ---- Content-Length: 0 ----

EMPTY_BODIES = [
    ("DELETE", "/echo", {}),
    ("OPTIONS", "/echo", {"data": b""}),
    ("PROPFIND", "/echo", {}),
    ("POST", "/echo", {}),
    ("PUT", "/echo", {}),
    ("PATCH", "/echo", {"data": b""}),
    ("GET", "/echo", {"data": b""}),
    ("GET", "/echo", {}),
    ("DELETE", _to(307, "/echo"), {}),
    ("PROPFIND", _to(308, "/echo"), {}),
    ("OPTIONS", "/echo", {}),
    ("DELETE", "/echo", {}),
]


@pytest.mark.parametrize(("method", "path", "kwargs"), EMPTY_BODIES, ids=str)
def test_an_empty_body_is_sent_as_requests_sends_it(servers: Servers, method: str, path: str,
                                                     kwargs: dict[str, Any]) -> None:
    got, want = _both(method, servers.a + path, **kwargs)
    assert _sent(got, "content-length", "transfer-encoding") == _sent(want, "content-length", "transfer-encoding")


# ---- header values ----

@pytest.mark.parametrize("value", ["café", "\xff\xa0x", "plain"])
def test_a_header_value_is_sent_as_latin1_as_requests_sends_it(servers: Servers, value: str) -> None:
    got, want = _both("GET", servers.a + "/echo", headers={"X-Test": value})
    assert _sent(got, "x-test") == _sent(want, "x-test") == _sent(want) | {"x-test": value}


# ---- a body cut short ----

def test_a_body_shorter_than_its_content_length_is_an_incomplete_read(servers: Servers) -> None:
    with pytest.raises(requests.exceptions.ChunkedEncodingError) as want:
        requests.get(servers.a + "/short", timeout=30)
    with pytest.raises(OSError) as got:
        ghttp.get(servers.a + "/short", timeout=30)
    assert type(got.value) is OSError and got.value.errno is None
    assert str(got.value) == want.value.args[0].args[0] == "Connection broken: IncompleteRead(3 bytes read, 7 more expected)"


def test_a_chunked_body_cut_short_is_an_incomplete_read(servers: Servers) -> None:
    with pytest.raises(requests.exceptions.ChunkedEncodingError):
        requests.get(servers.a + "/shortchunked", timeout=30)
    with pytest.raises(OSError) as got:
        ghttp.get(servers.a + "/shortchunked", timeout=30)
    assert type(got.value) is OSError and got.value.errno is None
    assert str(got.value) == "Connection broken: IncompleteRead(5 bytes read)"


# ---- verify: a directory of CA certificates ----

def test_verify_accepts_a_directory_of_ca_certificates(servers: Servers, tmp_path: Path) -> None:
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("needs openssl to name the certificate by its hash, as OpenSSL's capath wants")
    pem = servers.ca.cert_pem.bytes()
    subject_hash = subprocess.run([openssl, "x509", "-hash", "-noout"], input=pem, capture_output=True,
                                  check=True).stdout.decode().strip()
    (tmp_path / f"{subject_hash}.0").write_bytes(pem)
    (tmp_path / "README").write_text("not a certificate")
    (tmp_path / "sub").mkdir()
    got, want = _both("GET", servers.tls + "/echo", verify=str(tmp_path))
    assert (got.status_code, _sent(got)) == (want.status_code, _sent(want))
    empty = tmp_path / "sub"
    with pytest.raises(requests.exceptions.SSLError):
        requests.get(servers.tls + "/echo", verify=str(empty), timeout=30)
    with pytest.raises(ssl.SSLError):
        ghttp.get(servers.tls + "/echo", verify=str(empty), timeout=30)
