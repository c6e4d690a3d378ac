"""``__main__`` code sent by value, sharing one namespace per worker.

A worker never runs the program's ``__main__``, so functions and classes
defined there travel by value (cloudpickle). Plain cloudpickle gives every
unpickled call its own copy of the globals it refers to, so what an
initializer assigns with ``global V`` is lost to the tasks that read ``V``
(and what one task assigns, to the next). Here every ``__main__`` function a
worker receives gets the same globals dict, the worker's stand-in for
``__main__``, as forked and spawned stdlib workers have one real
``__main__`` module:

- a global's value is the one the program had when the first call that
  refers to it reached this worker; in a worker forked from the program (a
  'fork' pool) the namespace is the program's ``__main__`` as it was when
  the pool started, as in the stdlib's fork workers;
- what the worker itself assigns (an initializer, a task) stays: a later
  call brings the program's value of a name only if the worker's namespace
  does not have that name yet.

Cost: one dict lookup per global a function refers to, when it is unpickled.
"""

from __future__ import annotations

import functools
import io
import pickle
import sys
import types
import weakref
from collections import ChainMap
from collections.abc import Iterator, Mapping
from typing import Any, ClassVar

from gofutures import _mainrecipes

_pickler_class: type[pickle.Pickler] | None = None
# The worker's stand-in for the program's __main__ namespace (created by the
# first __main__ function unpickled here).
_namespace: dict[str, Any] | None = None


def dumps(obj: Any, protocol: int, reducers: Any = None) -> bytes:
    """cloudpickle.dumps, with ``__main__`` functions sharing one namespace;
    ``reducers`` (a mapping of class to reducer) come before cloudpickle's."""
    cls = _pickler()
    if reducers is not None:
        # A class attribute: the C pickler ignores one set on an instance of
        # a subclass after it was made.
        table = ChainMap(reducers, cls.dispatch_table)  # type: ignore[arg-type]  # read only
        cls = type("PicklerWithReducers", (cls,), {"dispatch_table": table})
    buf = io.BytesIO()
    cls(buf, protocol).dump(obj)
    return buf.getvalue()


def _pickler() -> type[pickle.Pickler]:
    global _pickler_class
    if _pickler_class is None:
        import cloudpickle  # type: ignore[import-untyped]  # deferred: most calls never need it

        class Pickler(cloudpickle.Pickler):  # type: ignore[misc]
            dispatch_table: ClassVar[Mapping[Any, Any]] = ChainMap(
                {types.CodeType: _code_reducer(cloudpickle.Pickler.dispatch_table[types.CodeType])},
                _Without(cloudpickle.Pickler.dispatch_table, _REFUSED),  # type: ignore[arg-type]  # read only
            )

            def reducer_override(self, obj: Any) -> Any:
                kind = type(obj)
                recipe: tuple[Any, ...] | None = None
                if kind is functools._lru_cache_wrapper:
                    recipe = _mainrecipes.lru_cache_reduce(obj)
                elif kind is functools.cached_property:
                    recipe = _mainrecipes.cached_property_reduce(obj)
                elif kind is types.FunctionType and hasattr(obj, "registry"):
                    recipe = _mainrecipes.singledispatch_reduce(obj)
                if recipe is not None:
                    return recipe
                reduced = super().reducer_override(obj)
                if (
                    kind is types.FunctionType
                    and isinstance(reduced, tuple)
                    and obj.__globals__ is _program_main_dict()
                ):
                    return _share_namespace(reduced, _is_main_binding(obj))
                if (
                    isinstance(obj, type)
                    and isinstance(reduced, tuple)
                    and len(reduced) == 6
                    and reduced[5] is cloudpickle.cloudpickle._class_setstate
                ):
                    return _class_reduce(obj, reduced)
                return reduced

        _pickler_class = Pickler
    return _pickler_class


# Data that cloudpickle pickles and plain pickle (so the stdlib's process
# pool) refuses, where cloudpickle changes what arrives: an open file came as
# a StringIO copy of its contents (writes went nowhere), a memoryview as
# bytes. Code by value never needs them: these raise the stdlib's TypeError.
_REFUSED = frozenset((io.TextIOWrapper, memoryview))


def _code_reducer(reduce: Any) -> Any:
    """cloudpickle's reducer of code objects, keeping the code's file name
    (cloudpickle writes "<dynamic-code>", for deterministic pickles): remote
    tracebacks of __main__ functions sent by value then name the script and
    show its lines, as the stdlib's workers, which import it, do."""

    def reduce_code(code: types.CodeType) -> Any:
        rebuild, args = reduce(code)
        return rebuild, tuple(
            code.co_filename if type(arg) is str and arg == "<dynamic-code>" else arg for arg in args
        )

    return reduce_code


class _Without(Mapping[Any, Any]):
    """A pickler's dispatch table without the reducers of some classes (read
    live: later copyreg registrations count)."""

    def __init__(self, table: Mapping[Any, Any], excluded: frozenset[type]) -> None:
        self._table = table
        self._excluded = excluded

    def __getitem__(self, key: Any) -> Any:
        if key in self._excluded:
            raise KeyError(key)
        return self._table[key]

    def __iter__(self) -> Iterator[Any]:
        return (key for key in self._table if key not in self._excluded)

    def __len__(self) -> int:
        return sum(1 for _ in self)


def _program_main_dict() -> dict[str, Any] | None:
    main = sys.modules.get("__main__")
    return None if main is None else main.__dict__


class _Namespace:
    """Pickles as the receiving worker's shared ``__main__`` namespace."""

    __slots__ = ("seed",)

    def __init__(self, seed: dict[str, Any]) -> None:
        self.seed = seed

    def __reduce__(self) -> tuple[Any, ...]:
        return namespace, (self.seed,)


def _class_reduce(cls: type, reduced: tuple[Any, ...]) -> tuple[Any, ...]:
    """cloudpickle's reduction of a class sent by value, made through
    _mainrecipes (once per worker, with its slots or Enum aliases) and set up
    by _class_setstate (once per worker)."""
    from cloudpickle import cloudpickle as _cp

    make, newargs, state = reduced[0], reduced[1], reduced[2]
    if make is _cp._make_skeleton_class:
        make, newargs = _mainrecipes.make_class, _mainrecipes.with_slots(cls, newargs)
    elif make is _cp._make_skeleton_enum:
        make, newargs = _mainrecipes.make_enum, _mainrecipes.with_aliases(cls, newargs)
        state = _mainrecipes.without_members(cls, state)
    setstate = _class_setstate_bound if _is_main_binding(cls) else _class_setstate
    return (make, newargs, state, *reduced[3:5], setstate)


def _is_main_binding(obj: Any) -> bool:
    """Whether ``obj`` is what the program's ``__main__`` binds to its name.
    A decorated function's original, or the class a decorator replaced
    (``@dataclass(slots=True)`` makes a new one; the first stays referenced
    by the methods it made), is not: bound by name in a worker, it would
    stand for the real one."""
    main = sys.modules.get("__main__")
    name = getattr(obj, "__name__", None)
    return main is not None and type(name) is str and getattr(main, name, None) is obj


def _share_namespace(reduced: tuple[Any, ...], bind: bool) -> tuple[Any, ...]:
    """Rewrite cloudpickle's reduction of a dynamic function,
    ``(make, (code, globals, name, defaults, closure), state, None, None,
    setstate)``, to use the worker's shared namespace and keep the names it
    already has (and, if ``bind``, to bind the function by its name there).
    Any other shape (another cloudpickle) is left as it is."""
    if len(reduced) != 6:
        return reduced
    make, newargs, state, items, dict_items, _ = reduced
    if not (isinstance(newargs, tuple) and len(newargs) == 5 and isinstance(newargs[1], dict)):
        return reduced
    newargs = (newargs[0], _Namespace(newargs[1]), *newargs[2:])
    if isinstance(state, tuple) and len(state) == 2 and isinstance(state[1].get("__globals__"), dict):
        slots = {**state[1], "__globals__": _mainrecipes.fresh_globals(state[1]["__globals__"])}
        state = (state[0], slots)
    return (make, newargs, state, items, dict_items, _setstate_bound if bind else _setstate)


def use_program_main() -> None:
    """In a fork of the program (a 'fork' pool's zygote and its workers): the
    shared namespace is the program's own ``__main__``, as it was at the
    fork, which is where an inherited initializer sets its globals."""
    global _namespace
    main = sys.modules.get("__main__")
    if main is not None:
        _namespace = main.__dict__


def use_fresh_main(file: str | None, spec_name: str | None) -> None:
    """In a fresh worker (a 'spawn' interpreter, a fork of a 'forkserver'
    zygote): the shared namespace is a new module named ``__mp_main__``,
    which is ``sys.modules["__main__"]`` too, with the program's ``__file__``
    and ``__spec__`` name, as the stdlib's workers load the script there.
    So pickle finds the ``__main__`` classes and functions a task uses (a
    task that puts one of its objects on a queue, or starts a
    ``multiprocessing.Pool`` with one), and multiprocessing in a task starts
    its children from the program's script, as in the stdlib."""
    global _namespace
    module = types.ModuleType("__mp_main__")
    if file is not None:
        module.__file__ = file
    if spec_name is not None:
        from importlib.machinery import ModuleSpec

        module.__spec__ = ModuleSpec(spec_name, None)
    sys.modules["__main__"] = sys.modules["__mp_main__"] = module
    _namespace = module.__dict__


def namespace(seed: dict[str, Any]) -> dict[str, Any]:
    """In a worker: the shared ``__main__`` namespace (``seed`` holds the
    module attributes cloudpickle copies: ``__name__``, ``__file__``...;
    they fill only names the namespace lacks)."""
    global _namespace
    if _namespace is None:
        _namespace = {}
    for name, value in seed.items():
        _namespace.setdefault(name, value)
    return _namespace


# Classes whose state this worker has set: cloudpickle hands every later
# arrival of a class the same class object (its tracker), and setting the
# program's state on it again would undo what the worker assigned to it.
_classes_set_up: weakref.WeakSet[type] = weakref.WeakSet()


def _class_setstate(cls: type, state: Any) -> Any:
    """cloudpickle's setstate of a class sent by value, applied once per
    worker: its attributes are the program's when the class first reached
    the worker, and what the worker assigns (``Registry.items = [...]`` in an
    initializer) stays, as for a global."""
    from cloudpickle import cloudpickle as _cp

    if cls in _classes_set_up:
        return cls
    result = _cp._class_setstate(cls, state)
    _classes_set_up.add(cls)
    return result


def _class_setstate_bound(cls: type, state: Any) -> Any:
    """_class_setstate of a class the program's ``__main__`` binds to its
    name, which is then bound in the worker's shared namespace unless taken:
    pickle inside a task finds the class of an argument by name, as in the
    stdlib's workers, which import the script."""
    result = _class_setstate(cls, state)
    if _namespace is not None:
        _bind_by_name(_namespace, cls)
    return result


def _bind_by_name(namespace: dict[str, Any], obj: Any) -> None:
    """Bind a top-level function or class that arrived by value under its
    name, unless the name is taken: pickle in a task then finds it."""
    if obj.__qualname__ == obj.__name__:
        namespace.setdefault(obj.__name__, obj)


def _setstate(func: types.FunctionType, state: tuple[dict[str, Any], dict[str, Any]]) -> None:
    """cloudpickle's function setstate, but the program's values only fill
    names the worker's namespace does not have yet."""
    from cloudpickle import cloudpickle as _cp

    func_dict, slots = state
    shared = func.__globals__
    slots["__globals__"] = {k: v for k, v in slots["__globals__"].items() if k not in shared}
    _cp._function_setstate(func, (func_dict, slots))


def _setstate_bound(func: types.FunctionType, state: tuple[dict[str, Any], dict[str, Any]]) -> None:
    """_setstate of a function the program's ``__main__`` binds to its name,
    which is then bound in the shared namespace unless taken."""
    _setstate(func, state)
    _bind_by_name(func.__globals__, func)
