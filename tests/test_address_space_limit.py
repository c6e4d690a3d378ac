"""Under an address-space limit (RLIMIT_AS, ``ulimit -v``) too tight for Go's
runtime, which reserves about 2 GiB of address space as it starts and aborts
the whole process when it cannot: gofutures runs the stdlib's executors (and
Python's gofutures.io) with a RuntimeWarning that says why, and
gofutures.http raises OSError(ENOMEM). Nothing kills the program."""

from __future__ import annotations

from pathlib import Path

from ._scripts import run_both

LIMITED = """
import errno
import resource
import __CF__ as cf

def square(x):
    return x * x

if __name__ == "__main__":
    resource.setrlimit(resource.RLIMIT_AS, (1500 << 20, resource.getrlimit(resource.RLIMIT_AS)[1]))
    with cf.ThreadPoolExecutor(4) as ex:
        print("threads", sum(ex.map(square, range(100))))
    with cf.ProcessPoolExecutor(2) as ex:
        print("processes", sum(ex.map(square, range(100))))
    if cf.__name__ == "gofutures":
        import gofutures.http
        import gofutures.io
        print("io.run", gofutures.io.run(["echo", "hi"]).stdout)
        try:
            gofutures.http.get("http://127.0.0.1:9/")
        except OSError as e:
            print("http", e.errno == errno.ENOMEM, "address-space limit" in str(e))
"""


def test_a_tight_address_space_limit_runs_the_stdlib(tmp_path: Path) -> None:
    runs = run_both(tmp_path, LIMITED)
    std, gof = runs["concurrent.futures"], runs["gofutures"]
    assert std.returncode == 0, std.stderr
    assert gof.returncode == 0, gof.stderr
    assert std.stdout == "threads 328350\nprocesses 328350\n", std.stdout
    assert gof.stdout == std.stdout + "io.run b'hi\\n'\nhttp True True\n", gof.stdout
    assert gof.stderr.count("RuntimeWarning") == 1, gof.stderr
    assert "address-space limit (RLIMIT_AS, ulimit -v) of 1500 MiB" in gof.stderr, gof.stderr


# A strict program (-W error, pytest's filterwarnings = error) still gets its
# executors; and the check reads /proc in binary, so -X warn_default_encoding
# finds no text file opened without an encoding under any finite limit.
STRICT = """
import resource
import __CF__ as cf

if __name__ == "__main__":
    limit = {limit}
    resource.setrlimit(resource.RLIMIT_AS, (limit, resource.getrlimit(resource.RLIMIT_AS)[1]))
    with cf.ThreadPoolExecutor(2) as ex:
        print(sum(ex.map(abs, [-1, -2])))
"""


def test_strict_warning_filters_under_an_address_space_limit(tmp_path: Path) -> None:
    for limit, flags in (
        (1500 << 20, ("-W", "error")),
        (60 << 30, ("-X", "warn_default_encoding", "-W", "error::EncodingWarning")),
    ):
        for impl, proc in run_both(tmp_path, STRICT.replace("{limit}", str(limit)), flags=flags).items():
            assert (proc.returncode, proc.stdout) == (0, "3\n"), f"{impl} {flags}: {proc.stderr}"
