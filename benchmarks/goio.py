"""Go-scheduled I/O benchmark: ``python -m benchmarks.goio`` (``make bench``).

A loopback server written in Go (benchmarks/goio_server, built and started
here) answers every GET with 1 KiB after a delay. Each client runs in a
fresh interpreter and reports wall time, client CPU seconds per 1,000
requests, peak RSS, peak OS threads and the p99 lag of a 1 ms heartbeat
thread:

- ``cf+requests``: concurrent.futures.ThreadPoolExecutor, requests with a
  Session per thread;
- ``cf+urllib``: the same with urllib.request;
- ``gf+requests``: the same Python code on gofutures' ThreadPoolExecutor;
- ``gf.http``: ``ex.submit(gofutures.http.get, url)`` on gofutures'
  ThreadPoolExecutor (Go tasks: no Python thread per request);
- ``aiohttp``, ``httpx`` (AsyncClient), ``pycurl`` (CurlMulti) and
  ``pyreqwest`` (its async Client, on Rust's reqwest) when installed;
- ``go``: a reference, not a peer: the same GETs from a Go program
  (benchmarks/goio_client) with net/http set up as gofutures.http sets it
  up. What gf.http costs beyond it is gofutures' own.

Then ``gofutures.io.sleep(0.02)`` x 2,000 with max_workers=500 (ideal
0.08 s), against ``time.sleep`` on both thread pools.

    python -m benchmarks.goio [--requests 20000] [--inflight 100,1000,10000]
                              [--delay 0.2] [--clients ...]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import textwrap

from .goio_targets import NO_DELAY, Results, report

HERE = os.path.dirname(os.path.abspath(__file__))

# The client process: measures itself. Placeholders: CLIENT, URL, N, INFLIGHT.
PROBE = r'''
import json, os, resource, sys, threading, time
def os_threads():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("Threads:"):
                return int(line.split()[1])
    return 0
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
lags, peak, stop = [], [0], threading.Event()
def heartbeat():
    while not stop.is_set():
        t = time.perf_counter()
        time.sleep(0.001)
        lags.append(time.perf_counter() - t - 0.001)
        peak[0] = max(peak[0], os_threads())
URL, N, INFLIGHT = %(url)r, %(n)d, %(inflight)d
%(setup)s
hb = threading.Thread(target=heartbeat, daemon=True)
hb.start()
time.sleep(0.05)
cpu0 = resource.getrusage(resource.RUSAGE_SELF)
t0 = time.perf_counter()
ok = run()
wall = time.perf_counter() - t0
cpu1 = resource.getrusage(resource.RUSAGE_SELF)
stop.set(); hb.join()
lags.sort()
cpu = (cpu1.ru_utime - cpu0.ru_utime) + (cpu1.ru_stime - cpu0.ru_stime)
print(json.dumps({"wall": wall, "cpu_per_1000": cpu / N * 1000, "ok": ok, "n": N,
                  "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "threads": peak[0], "p99_ms": lags[int(len(lags) * 0.99)] * 1000 if lags else None}))
'''

# A client with a gofutures peer: its first line imports concurrent.futures
# as cf, and on_gofutures() makes the peer.
CF_REQUESTS = """
import concurrent.futures as cf, requests
local = threading.local()
def get(url):
    s = getattr(local, "s", None)
    if s is None:
        s = local.s = requests.Session()
        s.mount("http://", requests.adapters.HTTPAdapter(pool_maxsize=4))
    return s.get(url, timeout=60).status_code
def run():
    with cf.ThreadPoolExecutor(INFLIGHT) as ex:
        return sum(c == 200 for c in ex.map(get, [URL] * N))
"""

CF_SLEEP = """
import concurrent.futures as cf
def run():
    with cf.ThreadPoolExecutor(500) as ex:
        return len(list(ex.map(time.sleep, [0.02] * N)))
"""

CF_IMPORT = "import concurrent.futures as cf"
GO_RUNTIME = "cf.ThreadPoolExecutor(1).shutdown()  # the Go runtime starts once per process: not timed"


def on_gofutures(client: str) -> str:
    """The same client on gofutures' ThreadPoolExecutor: gofutures imported
    as cf instead, and the Go runtime started before the timing."""
    first, rest = client.lstrip("\n").split("\n", 1)
    if not first.startswith(CF_IMPORT):
        raise ValueError(f"a client with a gofutures peer starts with {CF_IMPORT!r}, not {first!r}")
    return "\n" + first.replace("concurrent.futures", "gofutures", 1) + "\n" + GO_RUNTIME + "\n" + rest


CLIENTS = {
    "cf+requests": CF_REQUESTS,
    "cf+urllib": """
import concurrent.futures as cf, urllib.request
def get(url):
    with urllib.request.urlopen(url, timeout=60) as r:
        r.read()
        return r.status
def run():
    with cf.ThreadPoolExecutor(INFLIGHT) as ex:
        return sum(c == 200 for c in ex.map(get, [URL] * N))
""",
    "gf+requests": on_gofutures(CF_REQUESTS),
    "gf.http": """
import gofutures as cf
from gofutures import http
cf.ThreadPoolExecutor(1).shutdown()  # the Go runtime starts once per process: not timed
def run():
    with cf.ThreadPoolExecutor(INFLIGHT) as ex:
        futures = [ex.submit(http.get, URL, timeout=60) for _ in range(N)]
        return sum(f.result().status_code == 200 for f in futures)
""",
    "aiohttp": """
import asyncio, aiohttp
async def main():
    sem = asyncio.Semaphore(INFLIGHT)
    conn = aiohttp.TCPConnector(limit=INFLIGHT)
    async with aiohttp.ClientSession(connector=conn) as s:
        async def one():
            async with sem:
                async with s.get(URL) as r:
                    await r.read()
                    return r.status
        return sum(c == 200 for c in await asyncio.gather(*(one() for _ in range(N))))
def run():
    return asyncio.run(main())
""",
    "pycurl": """
import pycurl, selectors
from io import BytesIO
# CurlMulti driven by socket_action on an epoll selector (its select() is
# limited to descriptors below 1024); INFLIGHT easy handles, each reused
# (libcurl keeps the connections in the multi handle's cache).
def run():
    sel, timeout = selectors.DefaultSelector(), [0.0]
    def on_socket(what, sock, multi, data):
        if what == pycurl.POLL_REMOVE:
            if sock in sel.get_map():
                sel.unregister(sock)
            return
        events = (selectors.EVENT_READ if what in (pycurl.POLL_IN, pycurl.POLL_INOUT) else 0) | (
            selectors.EVENT_WRITE if what in (pycurl.POLL_OUT, pycurl.POLL_INOUT) else 0)
        if sock in sel.get_map():
            sel.modify(sock, events)
        else:
            sel.register(sock, events)
    def on_timer(ms):
        timeout[0] = None if ms < 0 else ms / 1000
    m = pycurl.CurlMulti()
    m.setopt(pycurl.M_SOCKETFUNCTION, on_socket)
    m.setopt(pycurl.M_TIMERFUNCTION, on_timer)
    m.setopt(pycurl.M_MAXCONNECTS, INFLIGHT)
    def act(sock=pycurl.SOCKET_TIMEOUT, flags=0):
        while m.socket_action(sock, flags)[0] == pycurl.E_CALL_MULTI_PERFORM:
            pass
    free, todo, ended, ok = [], N, 0, 0
    for _ in range(min(INFLIGHT, N)):
        c = pycurl.Curl()
        c.setopt(pycurl.NOSIGNAL, 1)
        c.setopt(pycurl.TIMEOUT, 60)
        free.append(c)
    while ended < N:
        while todo and free:
            c = free.pop()
            c.body = BytesIO()
            c.setopt(pycurl.URL, URL)
            c.setopt(pycurl.WRITEDATA, c.body)
            m.add_handle(c)
            todo -= 1
        if timeout[0] == 0:
            act()
        ready = sel.select(timeout[0] if timeout[0] is not None else 1.0)
        if not ready:
            act()
        for key, mask in ready:
            act(key.fd, (pycurl.CSELECT_IN if mask & selectors.EVENT_READ else 0)
                | (pycurl.CSELECT_OUT if mask & selectors.EVENT_WRITE else 0))
        while True:
            queued, done, failed = m.info_read()
            for c in done:
                ok += c.getinfo(pycurl.RESPONSE_CODE) == 200 and len(c.body.getvalue()) == 1024
            for c in [*done, *(f[0] for f in failed)]:
                m.remove_handle(c)
                free.append(c)
                ended += 1
            if not queued:
                break
    return ok
""",
    "pyreqwest": """
import asyncio
from pyreqwest.client import ClientBuilder
async def main():
    sem = asyncio.Semaphore(INFLIGHT)
    async with ClientBuilder().max_connections(INFLIGHT).build() as client:
        async def one():
            async with sem:
                r = await client.get(URL).build().send()
                body = await r.bytes()
                return r.status == 200 and len(body) == 1024
        return sum(await asyncio.gather(*(one() for _ in range(N))))
def run():
    return asyncio.run(main())
""",
    "httpx": """
import asyncio, httpx
async def main():
    sem = asyncio.Semaphore(INFLIGHT)
    limits = httpx.Limits(max_connections=INFLIGHT, max_keepalive_connections=INFLIGHT)
    async with httpx.AsyncClient(limits=limits, timeout=60) as c:
        async def one():
            async with sem:
                return (await c.get(URL)).status_code
        return sum(c == 200 for c in await asyncio.gather(*(one() for _ in range(N))))
def run():
    return asyncio.run(main())
""",
}

SLEEPS = {
    "cf time.sleep": CF_SLEEP,
    "gf time.sleep": on_gofutures(CF_SLEEP),
    "gf io.sleep": """
import gofutures as cf
from gofutures import io
cf.ThreadPoolExecutor(1).shutdown()  # the Go runtime starts once per process: not timed
def run():
    with cf.ThreadPoolExecutor(500) as ex:
        futures = [ex.submit(io.sleep, 0.02) for _ in range(N)]
        return sum(1 for f in futures if f.result() is None)
""",
}

REQUIRES = {"cf+requests": "requests", "gf+requests": "requests", "aiohttp": "aiohttp", "httpx": "httpx",
            "pycurl": "pycurl", "pyreqwest": "pyreqwest"}


def _installed(module: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(module) is not None


def _measure(command: list[str], n: int, timeout: float) -> dict[str, float] | str:
    """Run a client command; its JSON line, or why there is none."""
    try:
        out = subprocess.run(command, capture_output=True, text=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        return f"timed out after {timeout:.0f} s"
    if out.returncode != 0:
        return (out.stderr.strip().splitlines() or ["failed"])[-1][:80]
    result: dict[str, float] = json.loads(out.stdout.strip().splitlines()[-1])
    if result["ok"] != n:
        return f"{n - result['ok']:.0f} of {n} failed"
    return result


def _client(setup: str, url: str, n: int, inflight: int, timeout: float) -> dict[str, float] | str:
    code = PROBE % {"url": url, "n": n, "inflight": inflight, "setup": textwrap.dedent(setup)}
    return _measure([sys.executable, "-c", code], n, timeout)


def _run_client(name: str, url: str, n: int, inflight: int, timeout: float) -> dict[str, float] | str:
    if name == "go":  # the reference, in the Python clients' shape
        return _measure([_go_binary("goio_client"), f"-url={url}", f"-n={n}", f"-inflight={inflight}"], n, timeout)
    return _client(CLIENTS[name], url, n, inflight, timeout)


def _go_binary(program: str) -> str:
    """benchmarks/<program>/main.go built once (CGO off), its path."""
    binary = _BUILT.get(program)
    if binary is None:
        go = shutil.which("go")
        if go is None:
            raise SystemExit("the benchmark's server and reference client need Go on PATH")
        binary = os.path.join(tempfile.mkdtemp(prefix="gofutures-bench-"), program)
        subprocess.run([go, "build", "-o", binary, os.path.join(HERE, program, "main.go")], check=True,
                       env={**os.environ, "CGO_ENABLED": "0"})
        _BUILT[program] = binary
    return binary


_BUILT: dict[str, str] = {}


def _server(delay: float) -> tuple[subprocess.Popen[str], str]:
    srv = subprocess.Popen([_go_binary("goio_server"), f"-delay={delay}s"], stdout=subprocess.PIPE, text=True)
    assert srv.stdout is not None
    return srv, "http://" + srv.stdout.readline().strip() + "/"


def _on_fresh_server(name: str, delay: float, n: int, inflight: int, timeout: float) -> dict[str, float] | str:
    """One client's run against a server of its own. Its port is new, so the
    TIME_WAIT connections an earlier client left to the old port do not
    lengthen this client's search for free local ports (measured: with
    20,000 of them, 13% of a 10,000-in-flight client's CPU went to
    connect()'s port search)."""
    srv, url = _server(delay)
    try:
        return _run_client(name, url, n, inflight, timeout)
    finally:
        srv.kill()
        srv.wait()


def _row(name: str, inflight: int, r: dict[str, float] | str, ideal: float | None) -> str:
    if isinstance(r, str):
        return f"| {name} | {inflight:,} | {r} | | | | | |"
    ratio = f"{r['wall'] / ideal:.2f}x" if ideal else ""
    p99 = f"{r['p99_ms']:.1f}" if r["p99_ms"] is not None else "-"
    return (f"| {name} | {inflight:,} | {r['wall']:.2f} | {ratio} | {r['cpu_per_1000']:.3f} | "
            f"{r['rss_mb']:.0f} | {r['threads']:.0f} | {p99} |")


HEAD = ("| client | in flight | wall s | / ideal | CPU s / 1,000 req | peak RSS MB | peak OS threads | "
        "heartbeat p99 ms |\n|---|---|---|---|---|---|---|---|")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--requests", type=int, default=20_000)
    p.add_argument("--inflight", default="100,1000,10000")
    p.add_argument("--delay", type=float, default=0.2)
    p.add_argument("--cost-requests", type=int, default=20_000, help="requests of the no-delay run (64 in flight); 0 skips it")
    p.add_argument("--sleeps", type=int, default=2_000, help="io.sleep calls of the sleep run; 0 skips it")
    p.add_argument("--clients", default=",".join([*CLIENTS, "go"]))
    p.add_argument("--timeout", type=float, default=300)
    args = p.parse_args(argv)
    clients = [c for c in args.clients.split(",") if c]
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    print(f"# gofutures Go-scheduled I/O benchmark: {os.cpu_count()} cores, fd limit {hard}, "
          f"Python {sys.version.split()[0]}")
    print(f"\n## {args.requests:,} GETs of 1 KiB, {args.delay * 1000:.0f} ms server delay\n")
    print(HEAD, flush=True)
    results: Results = {}
    ideals: dict[int, float] = {}
    for inflight in (int(x) for x in args.inflight.split(",")):
        ideal = ideals[inflight] = args.requests / inflight * args.delay
        for name in clients:
            if name in REQUIRES and not _installed(REQUIRES[name]):
                print(_row(name, inflight, "not installed", None), flush=True)
                continue
            r = results[name, inflight] = _on_fresh_server(name, args.delay, args.requests, inflight, args.timeout)
            print(_row(name, inflight, r, ideal), flush=True)
    if args.cost_requests > 0:  # 0 skips this part
        _cost_per_request(clients, args.cost_requests, args.timeout, results)
    sleep_ideal = _sleeps(args.sleeps, args.timeout, results) if args.sleeps > 0 else None
    print("\n## issue 14's targets, from this run\n")
    print(report(results, ideals, sleep_ideal), flush=True)
    return 0


def _cost_per_request(clients: list[str], requests: int, timeout: float, results: Results) -> None:
    print(f"\n## cost per request: {requests:,} GETs, no delay, {NO_DELAY} in flight\n")
    print(HEAD, flush=True)
    for name in clients:
        if name in REQUIRES and not _installed(REQUIRES[name]):
            continue
        r = results[name, NO_DELAY] = _on_fresh_server(name, 0, requests, NO_DELAY, timeout)
        print(_row(name, NO_DELAY, r, None), flush=True)


def _sleeps(sleeps: int, timeout: float, results: Results) -> float:
    """The sleep run; its ideal wall time."""
    ideal = sleeps / 500 * 0.02
    print(f"\n## {sleeps:,} sleeps of 20 ms, max_workers=500 (ideal {ideal:.2f} s)\n")
    print(HEAD, flush=True)
    for name, setup in SLEEPS.items():
        r = results[name, 500] = _client(setup, "", sleeps, 500, timeout)
        print(_row(name, 500, r, ideal), flush=True)
    return ideal


if __name__ == "__main__":
    sys.exit(main())
