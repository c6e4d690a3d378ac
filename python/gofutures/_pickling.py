"""How calls and results cross to worker processes.

Workers are fresh interpreters (or forks of a zygote) that never run the
parent's ``__main__``. So:

- Calls (``dumps_call``): plain pickle, which sends everything importable by
  reference (fast, C). When that fails (lambdas, closures, interactively
  defined code) or the pickle refers to ``__main__`` (the worker has no such
  module), the call goes by value with cloudpickle, as loky does; a worker
  gives every ``__main__`` function it receives one shared namespace (see
  ``_mainvalue``), so what an initializer or a task assigns to a global stays.
- Results (``dumps_result``, in the worker): plain pickle; objects whose
  class came from the parent's ``__main__`` (sent by value) are pickled with
  a reference that the parent resolves in its own ``__main__``, so the parent
  gets instances of its own class back.

Both ways, an object that multiprocessing's ForkingPickler pickles unlike
plain pickle (a ``multiprocessing.Pipe()`` end, a socket: their descriptor
goes through multiprocessing's resource sharer, ``reduction.DupFd``, not as
a number) is pickled with ForkingPickler's dispatch table, as the stdlib's
process pool pickles everything (see ``_needs_forking``).
"""

from __future__ import annotations

import contextlib
import copyreg
import functools
import io
import pickle
import sys
import types
import weakref
from typing import Any

PROTOCOL = pickle.HIGHEST_PROTOCOL
_MAIN_MARKER = b"__main__"


# Pickles up to this size are searched for "__main__"; larger ones (big
# payloads) are pickled again by _MainDetector, which costs one copy instead
# of a byte-by-byte search (about 0.3 ms a MiB).
_SCAN_LIMIT = 64 << 10


# ForkingPickler._extra_reducers: what reduction.register adds (sockets,
# Connection objects, and whatever a library registers); loaded when first
# needed. The dict is never replaced, only added to.
_extra: dict[Any, Any] | None = None
# Classes registered there that plain pickle pickles the same way.
_PLAIN_ALIKE = frozenset(
    (types.MethodType, types.MethodDescriptorType, types.WrapperDescriptorType, functools.partial)
)
# For the registrations as last seen (their count): the classes pickled
# differently, the names of their modules as pickles hold them, and
# ForkingPickler's dispatch table (copyreg's, then the registered reducers).
_seen_count = -1
_special: frozenset[type] = frozenset()
_markers: tuple[bytes, ...] = ()
_table: dict[Any, Any] = {}


def _extra_reducers() -> dict[Any, Any]:
    global _extra
    if _extra is None:
        from multiprocessing import reduction

        _extra = reduction.ForkingPickler._extra_reducers  # type: ignore[attr-defined]
    return _extra


def _refresh() -> None:
    """Recompute what depends on the registrations when their count changed
    (a registration that replaces the reducer of a class already listed is
    seen at the next new one)."""
    global _seen_count, _special, _markers, _table
    extra = _extra_reducers()
    count = len(extra) + len(copyreg.dispatch_table)
    if count == _seen_count:
        return
    _special = frozenset(cls for cls in extra if cls not in _PLAIN_ALIKE)
    _markers = tuple({cls.__module__.encode() for cls in _special})
    table = dict(copyreg.dispatch_table)
    table.update(extra)
    _table, _seen_count = table, count


def forking_reducers() -> dict[Any, Any]:
    """ForkingPickler's dispatch table, as a dict (the C pickler reads it
    without calling Python)."""
    _refresh()
    return _table


def _forking_dumps(obj: Any) -> bytes:
    buf = io.BytesIO()
    pickler = pickle.Pickler(buf, PROTOCOL)
    pickler.dispatch_table = forking_reducers()
    pickler.dump(obj)
    return buf.getvalue()


# Results that hold nothing else: no search of their pickle.
_ATOMIC = frozenset((int, float, bool, str, bytes, type(None)))


class _NeedsForking(Exception):
    pass


class _SpecialDetector(pickle.Pickler):
    """Pickles like pickle.dumps but raises _NeedsForking at the first object
    of a class that ForkingPickler pickles differently."""

    def reducer_override(self, obj: Any) -> Any:
        if type(obj) in _special:
            raise _NeedsForking
        return NotImplemented


def _needs_forking(obj: Any, data: bytes) -> bool:
    """Whether plain pickle ``data`` of ``obj`` holds an object that
    ForkingPickler pickles differently. Such an object's pickle names its
    class's module: a pickle up to 64 KiB is searched for those names (two
    by default, well under 1 us for a small call; a false match costs one
    pickling more), a larger one pickled again by _SpecialDetector, as
    refers_to_main does. Pickling everything with ForkingPickler's table
    instead cost process.submit's benchmark about 25% (a Pickler and a
    BytesIO per call, against pickle.dumps)."""
    # (Inlined checks: this runs for every call and result.)
    extra = _extra if _extra is not None else _extra_reducers()
    if len(extra) + len(copyreg.dispatch_table) != _seen_count:
        _refresh()
    if not _markers:
        return False
    if len(data) <= _SCAN_LIMIT:
        for marker in _markers:
            if marker in data:
                return True
        return False
    try:
        _SpecialDetector(io.BytesIO(), PROTOCOL).dump(obj)
    except _NeedsForking:
        return True
    except (pickle.PicklingError, AttributeError, TypeError):
        return True  # (data is cloudpickle's) cannot tell: assume so
    return False


class _RefersToMain(Exception):
    pass


class _MainDetector(pickle.Pickler):
    """Pickles like pickle.dumps but raises _RefersToMain at the first class,
    function or instance that belongs to ``__main__``. (The C pickler calls
    reducer_override only for objects other than plain built-in values.)"""

    def reducer_override(self, obj: Any) -> Any:
        # Classes and functions by their own module, other objects by their
        # class's (never getattr on an instance: a proxy would forward it).
        named = obj if isinstance(obj, (type, types.FunctionType)) else type(obj)
        if getattr(named, "__module__", None) == "__main__":
            raise _RefersToMain
        return NotImplemented


def refers_to_main(obj: Any, data: bytes) -> bool:
    """Whether pickle ``data`` of ``obj`` refers to ``__main__``."""
    if len(data) <= _SCAN_LIMIT:
        return _MAIN_MARKER in data
    try:
        _MainDetector(io.BytesIO(), PROTOCOL).dump(obj)
    except _RefersToMain:
        return True
    return False


InheritedMain = dict[str, "weakref.ref[Any]"]


def inherited_main(namespace: dict[str, Any]) -> InheritedMain:
    """What the workers of a 'fork' pool hold of ``__main__`` (its
    ``namespace`` when their zygote is forked): its functions and classes by
    name, weakly. A copy of the namespace kept every global alive as long as
    the pool's state: an executor bound to a global never died (nor did its
    workers), and a big global the program dropped was never freed."""
    return {
        name: weakref.ref(value)
        for name, value in namespace.items()
        if isinstance(value, (type, types.FunctionType))
    }


class _InheritedMainChecker(pickle.Pickler):
    """Pickles like pickle.dumps but raises _RefersToMain at the first class,
    function or instance of ``__main__`` that the workers' inherited
    ``__main__`` does not hold: one whose top-level name was bound to
    another object (or to none) when their zygote was forked."""

    def __init__(self, file: Any, inherited: InheritedMain) -> None:
        super().__init__(file, PROTOCOL)
        self.inherited = inherited
        self.main = sys.modules["__main__"].__dict__

    def reducer_override(self, obj: Any) -> Any:
        named = obj if isinstance(obj, (type, types.FunctionType)) else type(obj)
        if getattr(named, "__module__", None) == "__main__":
            top = getattr(named, "__qualname__", "").partition(".")[0]
            current = self.main.get(top, _MISSING)
            held = self.inherited.get(top)
            if current is _MISSING or held is None or held() is not current:
                raise _RefersToMain
        return NotImplemented


_MISSING = object()


def _main_is_inherited(obj: Any, inherited: InheritedMain | None) -> bool:
    if inherited is None:
        return False
    try:
        _InheritedMainChecker(io.BytesIO(), inherited).dump(obj)
    except _RefersToMain:
        return False
    return True


def dumps_call(
    obj: Any, inherited_main: InheritedMain | None = None, reducers: Any = None
) -> bytes:
    """Pickle a call (or an initializer spec) for a worker process.

    ``inherited_main`` is what the pool's workers hold of the program's
    ``__main__`` (inherited_main()), for workers forked from the program:
    then the ``__main__`` functions and classes they hold unchanged go by
    reference, as with the stdlib's 'fork' (their globals are never pickled,
    so a function may use an open file or a lock of the program); any other
    ``__main__`` code goes by value. ``reducers`` (a mapping of class to
    reducer, such as multiprocessing's) replace the default dispatch table;
    without them, what needs ForkingPickler's is pickled with it."""
    forking = False
    try:
        if reducers is None:
            data = pickle.dumps(obj, PROTOCOL)
            forking = _needs_forking(obj, data)
            if forking:
                data = _forking_dumps(obj)
        else:
            buf = io.BytesIO()
            pickler = pickle.Pickler(buf, PROTOCOL)
            pickler.dispatch_table = reducers
            pickler.dump(obj)
            data = buf.getvalue()
    except (pickle.PicklingError, AttributeError, TypeError):
        return _cloudpickle_dumps(obj, reducers)
    if refers_to_main(obj, data) and not _main_is_inherited(obj, inherited_main):
        return _cloudpickle_dumps(obj, _extra_reducers() if forking else reducers)
    return data


class _Pieces:
    """A pickler's file that keeps what it is given: frames of up to 64 KiB,
    and each buffer of 64 KiB or more by reference (the C pickler writes
    those straight to the file, uncopied)."""

    __slots__ = ("pieces", "write")

    def __init__(self) -> None:
        self.pieces: list[Any] = []
        self.write = self.pieces.append


def dumps_call_pieces(obj: Any) -> bytes | list[Any]:
    """As dumps_call, for a call with a big buffer among its arguments: the
    pickle comes as a list of pieces that refer to the caller's buffers
    (fast_proc_submit keeps them referenced until Go has written them). A
    whole pickle in one bytes object would cost a copy more, and a fresh
    allocation that glibc maps and unmaps each time (a page fault per 4 KiB)."""
    file = _Pieces()
    try:
        pickler = _MainDetector(file, PROTOCOL)
        pickler.dispatch_table = forking_reducers()
        pickler.dump(obj)
    except (_RefersToMain, pickle.PicklingError, AttributeError, TypeError):
        return _cloudpickle_dumps(obj)
    return file.pieces


_BUFFER_TYPES = frozenset((bytes, bytearray, str))


def has_big_buffer(args: tuple[Any, ...]) -> bool:
    """Whether an argument is a buffer of 64 KiB or more: bytes, bytearray,
    str, or an object whose class has ``nbytes`` (a NumPy array, say).
    Costs about 0.1 us an argument; only the class is asked about nbytes,
    never an instance (a proxy would forward the question)."""
    for arg in args:
        kind = type(arg)
        if kind in _BUFFER_TYPES:
            if len(arg) >= _SCAN_LIMIT:
                return True
        elif kind is not int and getattr(kind, "nbytes", None) is not None:
            with contextlib.suppress(Exception):
                if arg.nbytes >= _SCAN_LIMIT:
                    return True
    return False


def _cloudpickle_dumps(obj: Any, reducers: Any = None) -> bytes:
    """cloudpickle, with ``reducers`` over its own dispatch table; without
    them, with ForkingPickler's registered reducers where they are needed (a
    pickler with them costs a class made for the call)."""
    from gofutures import _mainvalue

    if reducers is not None:
        return _mainvalue.dumps(obj, PROTOCOL, reducers)
    try:
        data = _mainvalue.dumps(obj, PROTOCOL)
    except TypeError:  # such as "cannot pickle 'socket' object"
        return _mainvalue.dumps(obj, PROTOCOL, _extra_reducers())
    if _needs_forking(obj, data):
        return _mainvalue.dumps(obj, PROTOCOL, _extra_reducers())
    return data


def main_attr(qualname: str) -> Any:
    """Resolve ``qualname`` in this process's ``__main__`` (used in results)."""
    obj: Any = sys.modules["__main__"]
    for part in qualname.split("."):
        obj = getattr(obj, part)
    return obj


class _MainRefPickler(pickle.Pickler):
    """Pickles classes and functions of ``__main__`` as references that the
    parent resolves in its own ``__main__``: only those it can resolve (a
    dotted name of identifiers). A lambda or a local class or function is
    left to fail here with pickle's own error, as the stdlib's worker fails
    (the future gets that error, with the worker's traceback), never with an
    AttributeError from the parent's lookup."""

    def reducer_override(self, obj: Any) -> Any:
        is_named = isinstance(obj, type) or (callable(obj) and hasattr(obj, "__qualname__"))
        if is_named and getattr(obj, "__module__", None) == "__main__":
            qualname = obj.__qualname__
            if isinstance(qualname, str) and all(part.isidentifier() for part in qualname.split(".")):
                return main_attr, (qualname,)
        return NotImplemented


def dumps_result_pieces(obj: Any) -> bytes | list[Any]:
    """As dumps_result, for a result that is (or holds at its top) a big
    buffer: a list of pieces that refer to it (see dumps_call_pieces)."""
    file = _Pieces()
    try:
        pickler = pickle.Pickler(file, PROTOCOL)
        pickler.dispatch_table = forking_reducers()
        pickler.dump(obj)
    except (pickle.PicklingError, AttributeError, TypeError):
        return dumps_result(obj)
    return file.pieces


def dumps_result(obj: Any) -> bytes:
    """Pickle a worker's result (or exception) for the parent. When it cannot
    be pickled, plain pickle's error is raised, with the context it was raised
    in (a task's exception that does not pickle stays visible in the remote
    traceback, as in the stdlib's), not the fallback's."""
    try:
        data = pickle.dumps(obj, PROTOCOL)
        if type(obj) in _ATOMIC or not _needs_forking(obj, data):
            return data
        return _forking_dumps(obj)
    except (pickle.PicklingError, AttributeError, TypeError) as exc:
        first = exc
    buf = io.BytesIO()
    with contextlib.suppress(Exception):  # the fallback's own error says less
        pickler = _MainRefPickler(buf, PROTOCOL)
        pickler.dispatch_table = forking_reducers()
        pickler.dump(obj)
        return buf.getvalue()
    raise first


loads = pickle.loads
