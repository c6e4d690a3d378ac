"""The proxy settings requests takes from the environment, read for each
request (httpc.ProxyEnv in Go decides each hop with them).

Go cannot read them itself: its copy of the environment is the one the
process started with (``os.environ[...] = ...`` changes only the C
library's), and net/http's ProxyFromEnvironment reads even that once.

As ``urllib.request.getproxies()``: a lower-case variable wins over its
upper-case form, and an empty one removes the setting; ``HTTP_PROXY`` is
ignored in a CGI script (``REQUEST_METHOD`` set). Names in mixed case
(``Http_Proxy``), which getproxies() also reads, are not read here.

Cost: nine dictionary lookups a request (about 0.25 us); the settings are
worked out again only when a value changed.
"""

from __future__ import annotations

import os

# (http, https, all, no, no_proxy): the fields of httpc.ProxyEnv, in order.
Settings = tuple[str, str, str, str, str]
FIELDS = ("http", "https", "all", "no", "no_proxy")

_NAMES = (b"http_proxy", b"HTTP_PROXY", b"https_proxy", b"HTTPS_PROXY", b"all_proxy", b"ALL_PROXY",
          b"no_proxy", b"NO_PROXY", b"REQUEST_METHOD")
_NONE = (None,) * len(_NAMES)

# os.environ's own bytes mapping (what os.environb reads too): a lookup
# without encoding the name and decoding the value.
_environ: dict[bytes, bytes] = getattr(os.environ, "_data", None) or os.environb  # type: ignore[assignment]

_last: tuple[tuple[bytes | None, ...], Settings | None] = (_NONE, None)


def settings() -> Settings | None:
    """The proxy settings of the environment now; None when there are none
    (no proxy variable set: the usual case)."""
    global _last
    raw = tuple(map(_environ.get, _NAMES))
    if raw == _last[0]:
        return _last[1]
    found = _settings(raw)
    _last = (raw, found)
    return found


def _settings(raw: tuple[bytes | None, ...]) -> Settings | None:
    values = [None if v is None else os.fsdecode(v) for v in raw]
    http_l, http_u, https_l, https_u, all_l, all_u, no_l, no_u, request_method = values

    def pick(lower: str | None, upper: str | None, *, cgi_ignores_upper: bool = False) -> str:
        if lower is not None:  # set, even empty: it decides
            return lower
        if cgi_ignores_upper and request_method is not None:
            return ""
        return upper or ""

    found = (
        pick(http_l, http_u, cgi_ignores_upper=True),
        pick(https_l, https_u),
        pick(all_l, all_u),
        pick(no_l, no_u),
        no_l or no_u or "",  # requests' own read: os.environ.get("no_proxy") or ...("NO_PROXY")
    )
    return found if any(found) else None
