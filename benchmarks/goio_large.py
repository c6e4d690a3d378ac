"""Large data through gofutures.io and gofutures.http, side by side with the
stdlib's way of doing the same: time and memory.

    python -m benchmarks.goio_large [--mb 200] [--files 16] [--file-mb 50] [--repeat 3]

Each case runs in a fresh interpreter, once per implementation (runs of the
two alternate): the best time of --repeat runs, the peak RSS growth over the
data's size (ru_maxrss, measured from after the executor and Go started),
and the RSS still held once the results are dropped. The stdlib side is
``open(path, 'rb').read()``, ``subprocess.run(capture_output=True)`` and
``requests.get`` (urllib where requests is not installed), on
concurrent.futures' ThreadPoolExecutor when submitted; the gofutures side is
``gofutures.io.read_file``, ``gofutures.io.run`` and ``gofutures.http.get``
on a gofutures ThreadPoolExecutor. HTTP bodies come from
``python -m http.server`` in a process of its own, on loopback.

Nothing is asserted: the numbers are printed (ratio: stdlib seconds /
gofutures seconds, above 1 is faster).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import textwrap
import time

# The child: CASE, WAY, ARGS and REPEAT are filled in; prints one JSON line.
CHILD = r"""
import json, os, resource, sys, time
case, way, arg, repeat, workers = %(case)r, %(way)r, %(arg)r, %(repeat)d, %(workers)d
if way == "gofutures":
    import gofutures as cf
    from gofutures import http, io
    read = io.read_file
    run = lambda path: io.run(["cat", path]).stdout
    get = lambda url: http.get(url, timeout=120).content
else:
    import concurrent.futures as cf, subprocess
    def read(path):
        with open(path, "rb") as f:
            return f.read()
    run = lambda path: subprocess.run(["cat", path], capture_output=True).stdout
    try:
        import requests
        get = lambda url: requests.get(url, timeout=120).content
    except ImportError:
        import urllib.request
        get = lambda url: urllib.request.urlopen(url, timeout=120).read()
calls = {"read": read, "run": run, "get": get}
def rss():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
def once(ex):
    kind, _, how = case.partition(" ")
    fn = calls[kind]
    if how == "direct":
        return len(fn(arg))
    if how == "submitted":
        return len(ex.submit(fn, arg).result())
    return sum(len(b) for b in ex.map(fn, arg))
with cf.ThreadPoolExecutor(workers) as ex:
    ex.submit(time.sleep, 0).result()
    if way == "gofutures":
        ex.submit(io.sleep, 0).result()  # Go and its pump started
    base, before = rss(), resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    best, size = float("inf"), 0
    for _ in range(repeat):
        t = time.perf_counter()
        size = once(ex)
        best = min(best, time.perf_counter() - t)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 - before
    kept = rss() - base
print(json.dumps({"seconds": best, "size": size, "peak": peak, "kept": kept}))
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _child(case: str, way: str, arg: object, repeat: int, workers: int) -> dict[str, float]:
    code = CHILD % {"case": case, "way": way, "arg": arg, "repeat": repeat, "workers": workers}
    out = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        check=False,
        capture_output=True,
        text=True,
        timeout=600,
        cwd=tempfile.gettempdir(),  # not the repository: its gofutures/ is Go source
    )
    if out.returncode != 0:
        raise RuntimeError(f"{case} on {way} failed:\n{out.stderr}")
    result: dict[str, float] = json.loads(out.stdout.splitlines()[-1])
    return result


def _write(path: str, mb: int) -> None:
    chunk = os.urandom(1 << 20)
    with open(path, "wb") as f:
        f.writelines(chunk for _ in range(mb))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mb", type=int, default=200, help="size of the single file (MiB)")
    parser.add_argument("--files", type=int, default=16, help="files read through ex.map")
    parser.add_argument("--file-mb", type=int, default=50, help="size of each of those (MiB)")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    work = tempfile.mkdtemp(prefix="gofutures-large-")
    server = None
    try:
        big = os.path.join(work, "big")
        _write(big, args.mb)
        paths = [os.path.join(work, f"f{i}") for i in range(args.files)]
        for p in paths:
            _write(p, args.file_mb)
        port = _free_port()
        server = subprocess.Popen(
            [sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1", "--directory", work],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        url = f"http://127.0.0.1:{port}/big"
        for _ in range(100):  # until it listens
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.05)
        cases = [
            ("read direct", big, 1),
            ("read submitted", big, 1),
            ("run direct", big, 1),
            ("run submitted", big, 1),
            ("get direct", url, 1),
            ("get submitted", url, 1),
            ("read map", paths, 4),
            ("read map", paths, 64),
        ]
        print(f"{args.mb} MiB file; {args.files} files of {args.file_mb} MiB for map; best of {args.repeat}")
        head = f"{'case':<24} {'stdlib s':>9} {'gofutures s':>12} {'ratio':>7}"
        print(head + f" {'peak/size stdlib':>17} {'gofutures':>10} {'kept MB stdlib':>15} {'gofutures':>10}")
        for case, arg, workers in cases:
            runs = {way: _child(case, way, arg, args.repeat, workers) for way in ("stdlib", "gofutures")}
            std, gof = runs["stdlib"], runs["gofutures"]
            if std["size"] != gof["size"]:
                print(f"{case}: VERIFICATION FAILED ({std['size']} bytes against {gof['size']})")
                continue
            name = f"{case}, {workers} worker{'s' if workers > 1 else ''}"
            print(
                f"{name:<24} {std['seconds']:>9.3f} {gof['seconds']:>12.3f} {std['seconds'] / gof['seconds']:>6.2f}x"
                f" {std['peak'] / std['size']:>16.2f}x {gof['peak'] / gof['size']:>9.2f}x"
                f" {std['kept'] / 2**20:>15.0f} {gof['kept'] / 2**20:>10.0f}"
            )
    finally:
        if server is not None:
            server.kill()
            server.wait()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
