# pyright: strict
"""User code that type checkers must accept (mypy --strict, pyright strict):
the headline usage of gofutures' thread pool, typed as the stdlib's is.
tests/test_typing.py checks it with both, and runs it."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import gofutures.thread

import gofutures as cf


def square(x: int) -> int:
    return x * x


def describe(name: str, count: int = 1, *, upper: bool = False) -> str:
    text = f"{name} x{count}"
    return text.upper() if upper else text


def add(x: int, y: float) -> float:
    return x + y


def fail() -> None:
    raise ValueError("boom")


local = threading.local()


def remember(prefix: str, start: int) -> None:
    local.tag = f"{prefix}{start}"


def tag() -> str:
    return str(local.tag)


def main() -> None:
    ex = cf.ThreadPoolExecutor(4)
    fut: cf.Future[int] = ex.submit(square, 3)
    x: int = fut.result()
    described: str = ex.submit(describe, "a", 2, upper=True).result(timeout=10)
    ex.shutdown(wait=True)

    with cf.ThreadPoolExecutor(max_workers=2, thread_name_prefix="ok") as pool:
        same: gofutures.thread.ThreadPoolExecutor = pool  # __enter__ returns the executor
        squares: Iterator[int] = pool.map(square, range(5))
        sums: list[float] = list(pool.map(add, [1, 2], [0.5, 0.25], timeout=10))
        chunked: list[int] = list(same.map(square, range(10), chunksize=4))
        buffered: list[int] = list(pool.map(square, range(10), buffersize=3))
        lengths: list[int] = list(pool.map(len, ["ab", "c"]))

        futures = [pool.submit(square, i) for i in range(4)]
        done, not_done = cf.wait(futures, timeout=10, return_when=cf.ALL_COMPLETED)
        finished: set[cf.Future[int]] = done
        total: int = sum(f.result() for f in finished) + len(not_done)
        ordered: list[int] = sorted(f.result() for f in cf.as_completed(futures, timeout=10))

        failing = pool.submit(fail)
        error: BaseException | None = failing.exception()
        message = ""
        try:
            failing.result()
        except ValueError as exc:
            message = str(exc)
        callback_done = threading.Event()
        failing.add_done_callback(lambda f: callback_done.set())

    with cf.ThreadPoolExecutor(1, initializer=remember, initargs=("t", 1)) as pool:
        tagged: str = pool.submit(tag).result()

    print(x, described, list(squares), sums, chunked, buffered, lengths, total, ordered)
    print(type(error).__name__, message, callback_done.is_set(), tagged)

    try:
        raise cf.GoPanicError("go panic: example\n\ngoroutine 1 [running]:")
    except cf.GoPanicError as exc:
        value: str = exc.panic_value
        stack: str = exc.go_stack
        broken: type[cf.BrokenExecutor] = gofutures.thread.BrokenThreadPool
        print(value, stack.splitlines()[0], broken.__name__)


if __name__ == "__main__":
    main()
