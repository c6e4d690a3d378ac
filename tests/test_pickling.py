"""gofutures._pickling: how calls are pickled for worker processes."""

from __future__ import annotations

import pickle
import sys
import types
from typing import Any, ClassVar

import pytest

from gofutures import _pickling

BIG = 1 << 20


def _joined(pieces: bytes | list[Any]) -> bytes:
    assert isinstance(pieces, list)
    return b"".join(bytes(memoryview(p)) for p in pieces)


@pytest.mark.parametrize(
    "arg", [b"x" * BIG, bytearray(b"y" * BIG), "z" * BIG], ids=["bytes", "bytearray", "str"]
)
def test_pieces_join_to_the_plain_pickle(arg: Any) -> None:
    call = (len, (arg, 3), {"k": 1})
    pieces = _pickling.dumps_call_pieces(call)
    assert _joined(pieces) == pickle.dumps(call, _pickling.PROTOCOL)
    assert pickle.loads(_joined(pieces)) == call


def test_pieces_refer_to_the_callers_buffer() -> None:
    big = bytearray(BIG)
    pieces = _pickling.dumps_call_pieces((len, (big,), {}))
    assert any(p is big for p in pieces), "the big buffer is not copied"


def test_pieces_of_a_main_call_go_by_value(monkeypatch: pytest.MonkeyPatch) -> None:
    def f(b: bytes) -> int:
        return len(b)

    f.__module__, f.__qualname__ = "__main__", "f"
    main = types.ModuleType("__main__")
    main.f = f  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "__main__", main)
    data = _pickling.dumps_call_pieces((f, (b"x" * BIG,), {}))
    assert isinstance(data, bytes), "cloudpickle, in one piece"
    fn, args, _ = pickle.loads(data)
    assert fn(*args) == BIG


class _WithNbytes:
    nbytes = 0

    def __init__(self, n: int) -> None:
        self.nbytes = n


class _Proxy:
    """Answers every attribute, as a remote proxy might; must not be asked."""

    asked: ClassVar[list[str]] = []

    def __getattr__(self, name: str) -> Any:
        self.asked.append(name)
        return 1 << 30


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        ((), False),
        ((1, 2.0, None, "short", b"short"), False),
        ((b"x" * BIG,), True),
        ((1, bytearray(BIG)), True),
        (("s" * BIG,), True),
        ((_WithNbytes(BIG),), True),
        ((_WithNbytes(10),), False),
        (([b"x" * BIG],), False),  # nested: pickled the ordinary way
        ((_Proxy(),), False),
    ],
)
def test_has_big_buffer(args: tuple[Any, ...], expected: bool) -> None:
    assert _pickling.has_big_buffer(args) is expected
    assert _Proxy.asked == []
