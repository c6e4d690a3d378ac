# pyright: strict
"""User code with type errors that both checkers must flag, each on the line
marked ``# expect-error`` (and no other): tests/test_typing.py checks that."""

from __future__ import annotations

import gofutures as cf


def square(x: int) -> int:
    return x * x


def power(base: int, exp: int) -> int:
    return int(base**exp)


def setup(name: str) -> None:
    print(name)


def main() -> None:
    with cf.ThreadPoolExecutor(4) as ex:
        ex.submit(square, "3")  # expect-error
        ex.submit(square, 3, 4)  # expect-error
        ex.submit(power, 2, expo=3)  # expect-error
        text: str = ex.submit(square, 3).result()  # expect-error
        ex.map(square, ["a", "b"])  # expect-error
        ex.map(power, [1], ["x"])  # expect-error
        ex.map(square, [1], buffersize="8")  # expect-error
    with cf.ProcessPoolExecutor(2) as pex:
        pex.submit(square, 2.5)  # expect-error
        pex.map(square, [b"x"])  # expect-error
        pex.map(square, [1], buffersize=2.0)  # expect-error
    cf.ThreadPoolExecutor(1, initializer=setup, initargs=(1,))  # expect-error
    cf.ProcessPoolExecutor(1, mp_context="spwan")  # expect-error
    cf.ThreadPoolExecutr(1)  # expect-error
    print(text)
