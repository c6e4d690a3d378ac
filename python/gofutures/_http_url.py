"""The URL gofutures.http sends: checked, with its params, and written as
requests writes it.

requests sends a URL as urllib3 parses and normalizes it, with the params
appended to the query, re-quoted by ``requote_uri``: scheme and host
lower-cased (a non-ASCII host IDNA-encoded), an empty path made ``/``, dot
segments removed, and in the path, query and fragment every character
outside the part's allowed set percent-encoded as UTF-8 (a ``%`` that
starts no valid escape is encoded as ``%25``, with every other ``%`` of its
part), valid escapes upper-cased; then escapes of unreserved characters
decoded. Go's net/http would instead send a query's raw bytes, and a space
as is (a request line the server rejects).

Cost: a URL made of plain characters is checked with one regular
expression; ``request_url`` caches the result per URL (about 2.5 us of GIL
time a request otherwise).
"""

from __future__ import annotations

import base64
import re
import string
import urllib.parse
from collections.abc import Mapping
from typing import Any

_UNRESERVED = frozenset(string.ascii_letters + string.digits + "-._~")
# RFC 3986 as urllib3 applies it: the characters of the user info, the
# path, and the query and fragment (the path's and "?").
_USERINFO_CHARS = _UNRESERVED | frozenset("!$&'()*+,;=:")
_PATH_CHARS = _USERINFO_CHARS | {"@", "/"}
_QUERY_CHARS = _PATH_CHARS | {"?"}
_ESCAPE = re.compile(r"%[a-fA-F0-9]{2}")
# A URL requests sends unchanged: lower-case scheme and host (no user info),
# a port without leading zeros, a path, and
# only plain characters after the host.
_PLAIN = re.compile(
    r"https?://([-a-z0-9._~]+|\[[0-9a-f:.]+\])(:[1-9][0-9]*)?"
    r"/[-A-Za-z0-9._~!$&'()*+,;=:@/]*"
    r"(\?[-A-Za-z0-9._~!$&'()*+,;=:@/?]+)?"
    r"(#[-A-Za-z0-9._~!$&'()*+,;=:@/?]+)?\Z"
)

# urllib3's split of a URL: scheme, authority, path, query, fragment.
_PARTS = re.compile(r"([a-zA-Z][a-zA-Z0-9+.-]*)://([^\\/?#]*)([^?#]*)(?:\?([^#]*))?(?:#(.*))?\Z", re.DOTALL)
# What no host holds (requests: InvalidURL).
_BAD_HOST = re.compile(r"[\x00-\x20\x7f]")

# URLs already parsed, most recent last (a program that requests the same
# URLs again skips the parse): the URL as requests sends it without params,
# and its parts (head, query, fragment) before the re-quoting.
_parsed: dict[str, tuple[str, tuple[str, str, str]]] = {}
_PARSED_KEPT = 1024


def request_url(url: str, params: Any) -> str:
    """url with params as requests sends it; ValueError (requests'
    InvalidURL, MissingSchema and InvalidSchema messages) if malformed."""
    entry = _parsed.get(url)
    if entry is None:
        parts = _normalized_parts(check(url))
        plain = _PLAIN.match(url) is not None and "/." not in url
        entry = (url if plain else _requote(_join(*parts)), parts)
        if len(_parsed) >= _PARSED_KEPT:
            _parsed.clear()
        _parsed[url] = entry
    query = encode_params(params) if params else ""
    if not query:
        return entry[0]
    head, own_query, fragment = entry[1]
    return _requote(_join(head, f"{own_query}&{query}" if own_query else query, fragment))


# A query urllib3 sends as it is: only _QUERY_CHARS (no "%").
_PLAIN_QUERY = re.compile("[" + re.escape("".join(sorted(_QUERY_CHARS))) + "]*\\Z")


def plain_query(params: str | bytes) -> bool:
    """Whether str or bytes params hold nothing urllib3 would encode when
    sending (then sent_url has nothing to do): one regular expression."""
    if isinstance(params, bytes):
        params = params.decode("latin-1")
    return _PLAIN_QUERY.match(params) is not None


def sent_url(url: str) -> str:
    """A prepared URL (request_url's) with its path and query encoded once
    more, as urllib3 encodes a request target when it sends it. Only params
    given as a str or bytes, which requests appends unencoded, can leave
    anything to encode (``[``, a lower-case escape, a stray ``%``): then
    requests' ``Response.url`` shows the prepared URL and the server sees
    this one."""
    match = _PARTS.match(url)
    if match is None:  # not from request_url
        return url
    scheme, authority, path, query, fragment = match.groups()
    return _join(f"{scheme}://{authority}{_encode(path, _PATH_CHARS)}",
                 "" if query is None else _encode(query, _QUERY_CHARS), fragment or "")


def check(url: str) -> re.Match[str]:
    """urllib3's split of url (_PARTS); requests' errors for a malformed URL,
    as ValueError."""
    scheme, sep, _ = url.partition("://")
    if not sep:
        raise ValueError(f"Invalid URL {url!r}: No scheme supplied. Perhaps you meant https://{url}?")
    if scheme.lower() not in ("http", "https"):
        raise ValueError(f"No connection adapters were found for {url!r}")
    try:
        parts = urllib.parse.urlsplit(url)
        parts.port  # noqa: B018 (raises ValueError for a bad port)
    except ValueError as exc:
        raise ValueError(f"Invalid URL {url!r}: {exc}") from None
    if not parts.hostname:
        raise ValueError(f"Invalid URL {url!r}: No host supplied")
    # urllib3's split, which ends the host at a backslash too: what Go is
    # given must name the host requests connects to.
    match = _PARTS.match(url)
    host = _host_and_port(match.group(2).rpartition("@")[2])[0] if match else ""
    if match is None or not host or _BAD_HOST.search(host):
        raise ValueError(f"Invalid URL {url!r}: Invalid host")
    return match


def encode_params(params: Any) -> str:
    """params (a str, bytes, mapping or pairs; a value may be a list, and
    None values are left out) as requests encodes them for a query."""
    if isinstance(params, bytes):
        return params.decode("ascii")
    if isinstance(params, str):
        return params
    pairs = []
    for key, values in params.items() if isinstance(params, Mapping) else params:
        if isinstance(values, str | bytes) or not hasattr(values, "__iter__"):
            values = [values]
        pairs += [(key, v) for v in values if v is not None]
    return urllib.parse.urlencode(pairs, doseq=True)


def _normalized_parts(match: re.Match[str]) -> tuple[str, str, str]:
    """urllib3's normalization of a checked URL (check's split of it):
    (scheme://host/path, query, fragment), each part percent-encoded, not
    yet re-quoted."""
    scheme, authority, path, query, fragment = match.groups()
    userinfo, _, hostport = authority.rpartition("@")
    host, port = _host_and_port(hostport)
    head = f"{scheme.lower()}://"
    if userinfo:  # requests drops an empty one
        head += _encode(userinfo, _USERINFO_CHARS) + "@"
    head += _ascii_host(host)
    if port and int(port):  # check() parsed it; requests drops port 0
        head += f":{int(port)}"
    if not path.startswith("/"):
        path = "/" + path  # as urlunparse writes it (urllib3 ends the host at "\\")
    head += _encode(_remove_dot_segments(path), _PATH_CHARS)
    return head, _encode(query or "", _QUERY_CHARS), _encode(fragment or "", _QUERY_CHARS)


def _host_and_port(hostport: str) -> tuple[str, str]:
    """("host", "port") of "host[:port]" or "[v6]:port"; ("", "") if neither."""
    if hostport.startswith("["):  # an IPv6 address
        host, bracket, rest = hostport.partition("]")
        if not bracket or (rest and not rest.startswith(":")):
            return "", ""
        return host + bracket, rest[1:]
    host, _, port = hostport.partition(":")
    return host, port


def _join(head: str, query: str, fragment: str) -> str:
    return head + ("?" + query if query else "") + ("#" + fragment if fragment else "")


def _ascii_host(host: str) -> str:
    """The host lower-cased, IDNA-encoded if not ASCII (as requests does,
    with the idna package when it is installed)."""
    if host.isascii():
        return host.lower()
    try:
        import idna  # type: ignore[import-untyped,unused-ignore]

        encoded: str = idna.encode(host, uts46=True).decode()
    except ImportError:
        encoded = host.encode("idna").decode()
    except Exception:  # left to Go, which reports a host it cannot resolve
        return host
    return encoded


def _remove_dot_segments(path: str) -> str:
    """RFC 3986's removal of "." and ".." segments, as urllib3 does it."""
    output: list[str] = []
    for segment in path.split("/"):
        if segment == ".":
            continue
        if segment != "..":
            output.append(segment)
        elif output:
            output.pop()
    if path.startswith("/") and (not output or output[0]):
        output.insert(0, "")
    if path.endswith(("/.", "/..")):
        output.append("")
    return "/".join(output)


def _encode(part: str, allowed: frozenset[str]) -> str:
    """urllib3's encoding of one part of a URL."""
    part, escapes = _ESCAPE.subn(lambda m: m.group(0).upper(), part)
    data = part.encode("utf-8", "surrogatepass")
    keep_percent = escapes == data.count(b"%")  # else every "%" is encoded
    return "".join(
        ch if (ch == "%" and keep_percent) or (byte < 128 and ch in allowed) else f"%{byte:02X}"
        for byte, ch in ((b, chr(b)) for b in data)
    )


def _requote(uri: str) -> str:
    """requests' requote_uri: escapes of unreserved characters decoded,
    then what is still unsafe quoted."""
    try:
        return urllib.parse.quote(_unquote_unreserved(uri), safe="!#$%&'()*+,/:;=?@[]~")
    except ValueError:  # an escape that is not hex: its "%" is quoted too
        return urllib.parse.quote(uri, safe="!#$&'()*+,/:;=?@[]~")


def _unquote_unreserved(uri: str) -> str:
    parts = uri.split("%")
    for i in range(1, len(parts)):
        h = parts[i][0:2]
        if len(h) == 2 and h.isalnum():
            c = chr(int(h, 16))  # ValueError if not hex
            parts[i] = c + parts[i][2:] if c in _UNRESERVED else "%" + parts[i]
        else:
            parts[i] = "%" + parts[i]
    return "".join(parts)


def basic_auth_from_url(url: str) -> tuple[str | None, str]:
    """What requests makes of a URL's user info: the ``Authorization`` value
    it sends (``Basic`` with the unquoted user and password, each encoded as
    latin-1, as requests' ``_basic_auth_str``), or None when it sends none
    (no password, or both empty); and the URL for Go without the user info
    in that case, so that Go does not send ``user:`` itself (it would)."""
    parts = urllib.parse.urlsplit(url)
    if "@" not in parts.netloc:  # an "@" in the path or query
        return None, url
    user, password = parts.username, parts.password
    if user is None or password is None or not (user or password):
        scheme, _, rest = url.partition("://")  # rest starts with the netloc
        return None, f"{scheme}://{parts.netloc.rpartition('@')[2]}{rest[len(parts.netloc):]}"
    pair = urllib.parse.unquote(user).encode("latin-1") + b":" + urllib.parse.unquote(password).encode("latin-1")
    return "Basic " + base64.b64encode(pair).decode("ascii"), url
