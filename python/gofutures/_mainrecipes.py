"""Recipes for ``__main__`` objects that cloudpickle cannot send as they are.

A 'spawn' or 'forkserver' worker of the stdlib imports the script again, so
every module-level object of ``__main__`` is made anew there. gofutures'
workers never run ``__main__`` (see _mainvalue): what a task needs travels by
value. Some objects cannot, or arrive wrong; for those the program sends a
recipe, and the worker makes the object as the script would have:

- ``functools.cache``/``lru_cache`` and ``singledispatch`` functions (pickle
  sends the first by name; the second holds a weak dictionary);
- ``functools.cached_property`` (on 3.11 it holds a lock);
- a module-level lock, event, semaphore, ``threading.local``,
  ``ContextVar``, queue or weak container that a ``__main__`` function
  uses: a fresh one, as the script makes at import (only as a global: passed
  as an argument it still fails to pickle, as with the stdlib);
- classes: one the worker has already is not made again (making it runs its
  ``__init_subclass__`` and metaclass), an Enum keeps its aliases, and a
  class's ``__slots__`` are kept where its metaclass allows them.

A top-level object made from a recipe is bound in the worker's shared
``__main__`` namespace once, so later tasks share it (a cache keeps its
entries); a binding the worker made itself stays.
"""

from __future__ import annotations

import contextvars
import functools
import queue
import threading
import types
import weakref
from collections.abc import Callable
from typing import Any

# ---- functions and descriptors ----


def lru_cache_reduce(cached: Any) -> tuple[Any, ...] | None:
    """A ``functools.lru_cache``/``cache`` function of ``__main__``, as its
    wrapped function and parameters; None for any other."""
    wrapped = getattr(cached, "__wrapped__", None)
    if getattr(cached, "__module__", None) != "__main__" or type(wrapped) is not types.FunctionType:
        return None
    params = cached.cache_parameters()
    return _lru_cache, (cached.__qualname__, wrapped, params["maxsize"], params["typed"])


def _lru_cache(qualname: str, wrapped: Any, maxsize: int | None, typed: bool) -> Any:
    return _bound_once(qualname, functools.lru_cache(maxsize=maxsize, typed=typed)(wrapped), wrapped)


def singledispatch_reduce(fn: types.FunctionType) -> tuple[Any, ...] | None:
    """A ``functools.singledispatch`` function of ``__main__``, as its
    default implementation and registrations; None for any other."""
    registry = getattr(fn, "registry", None)
    wrapped = getattr(fn, "__wrapped__", None)
    if (
        type(registry) is not types.MappingProxyType
        or not callable(getattr(fn, "dispatch", None))
        or getattr(fn, "__module__", None) != "__main__"
        or wrapped is None
    ):
        return None
    impls = [(cls, impl) for cls, impl in registry.items() if cls is not object]
    return _singledispatch, (fn.__qualname__, wrapped, impls)


def _singledispatch(qualname: str, wrapped: Any, impls: list[tuple[Any, Any]]) -> Any:
    dispatcher = functools.singledispatch(wrapped)
    for cls, impl in impls:
        dispatcher.register(cls, impl)
    return _bound_once(qualname, dispatcher, wrapped)


def cached_property_reduce(prop: functools.cached_property[Any]) -> tuple[Any, ...]:
    return _cached_property, (prop.func, prop.attrname, prop.__doc__)


def _cached_property(func: Any, attrname: str | None, doc: str | None) -> Any:
    prop: functools.cached_property[Any] = functools.cached_property(func)
    prop.attrname = attrname  # as __set_name__ set it in the program
    prop.__doc__ = doc
    return prop


def _bound_once(qualname: str, made: Any, original: Any) -> Any:
    """``made`` (from ``original``, which arrived by value), bound in the
    shared namespace under ``qualname`` if top-level and the name is free or
    holds ``original`` (bound by name as it arrived); else what the name
    holds, so that every task shares one object."""
    if "." in qualname:
        return made  # a method's comes with its class, set up once
    from gofutures._mainvalue import namespace

    shared = namespace({})
    current = shared.get(qualname, original)
    if current is not original:
        return current
    shared[qualname] = made
    return made


# ---- module-level objects that belong to one process ----


def _fresh_semaphore(sem: Any) -> tuple[Any, ...]:
    return type(sem), (getattr(sem, "_initial_value", None) or sem._value,)


def _fresh_queue(q: Any) -> tuple[Any, ...]:
    return type(q), (q.maxsize,)


def _fresh_context_var(var: contextvars.ContextVar[Any]) -> tuple[Any, ...]:
    try:
        default = contextvars.Context().run(var.get)  # in an empty context: the default
    except LookupError:
        return contextvars.ContextVar, (var.name,)
    return functools.partial(contextvars.ContextVar, default=default), (var.name,)


def _fresh_local(local: threading.local) -> tuple[Any, ...]:
    # With the attributes the pickling thread sees (set at import, say): the
    # worker's tasks run on its main thread, which ran the stdlib's import.
    return _local_with, (type(local), dict(local.__dict__))


def _local_with(cls: type[threading.local], attributes: dict[str, Any]) -> threading.local:
    local = cls()
    local.__dict__.update(attributes)
    return local


def _fresh_plain(obj: Any) -> tuple[Any, ...]:
    return type(obj), ()


def _fresh_lock(_: Any) -> tuple[Any, ...]:
    return threading.Lock, ()  # its type is not importable by name


def _fresh_rlock(_: Any) -> tuple[Any, ...]:
    return threading.RLock, ()


# How a fresh one is made, by exact type (a subclass may need arguments).
_FRESH: dict[type, Callable[[Any], tuple[Any, ...]]] = {
    type(threading.Lock()): _fresh_lock,
    type(threading.RLock()): _fresh_rlock,
    threading.Event: _fresh_plain,
    threading.Condition: _fresh_plain,
    threading.Semaphore: _fresh_semaphore,
    threading.BoundedSemaphore: _fresh_semaphore,
    threading.local: _fresh_local,
    contextvars.ContextVar: _fresh_context_var,
    queue.Queue: _fresh_queue,
    queue.LifoQueue: _fresh_queue,
    queue.PriorityQueue: _fresh_queue,
    queue.SimpleQueue: _fresh_plain,
    weakref.WeakValueDictionary: _fresh_plain,
    weakref.WeakKeyDictionary: _fresh_plain,
    weakref.WeakSet: _fresh_plain,
}


class _Fresh:
    """Pickles as a new object made by ``make(*args)`` in the worker."""

    __slots__ = ("recipe",)

    def __init__(self, recipe: tuple[Any, ...]) -> None:
        self.recipe = recipe

    def __reduce__(self) -> tuple[Any, ...]:
        return self.recipe


def fresh_globals(globals_: dict[str, Any]) -> dict[str, Any]:
    """A ``__main__`` function's globals, with each object of ``_FRESH``'s
    types replaced by a recipe for a fresh one."""
    if not any(type(value) in _FRESH for value in globals_.values()):
        return globals_
    return {
        name: _Fresh(_FRESH[type(value)](value)) if type(value) in _FRESH else value
        for name, value in globals_.items()
    }


# ---- classes ----


def _tracked(class_tracker_id: str | None) -> type | None:
    """The class this process already made for cloudpickle's
    ``class_tracker_id``, or None."""
    from cloudpickle import cloudpickle as _cp  # type: ignore[import-untyped]

    by_id = getattr(_cp, "_DYNAMIC_CLASS_TRACKER_BY_ID", None)
    lock = getattr(_cp, "_DYNAMIC_CLASS_TRACKER_LOCK", None)
    if class_tracker_id is None or by_id is None or lock is None:
        return None
    with lock:
        found: type | None = by_id.get(class_tracker_id)
    return found


def make_class(
    type_constructor: Any, name: str, bases: Any, type_kwargs: dict[str, Any], class_tracker_id: Any, extra: Any
) -> Any:
    """cloudpickle's _make_skeleton_class, but a class this worker has is
    not made again (making one runs its ``__init_subclass__`` and its
    metaclass: a registry ended up holding an empty class, a counter counted
    twice), and a metaclass that refuses ``__slots__`` in the namespace
    (``typing.NamedTuple``'s) gets the class without them, as cloudpickle
    makes it."""
    from cloudpickle import cloudpickle as _cp

    existing = _tracked(class_tracker_id)
    if existing is not None:
        return existing
    try:
        return _cp._make_skeleton_class(type_constructor, name, bases, type_kwargs, class_tracker_id, extra)
    except (TypeError, AttributeError):
        if "__slots__" not in type_kwargs:
            raise
    plain = {key: value for key, value in type_kwargs.items() if key != "__slots__"}
    return _cp._make_skeleton_class(type_constructor, name, bases, plain, class_tracker_id, extra)


def make_enum(
    bases: Any, name: str, qualname: str, members: dict[str, Any], module: str, class_tracker_id: Any, extra: Any
) -> Any:
    """cloudpickle's _make_skeleton_enum, not made again when this worker
    has it (see make_class)."""
    from cloudpickle import cloudpickle as _cp

    existing = _tracked(class_tracker_id)
    if existing is not None:
        return existing
    return _cp._make_skeleton_enum(bases, name, qualname, members, module, class_tracker_id, extra)


def with_slots(cls: type, newargs: Any) -> Any:
    """cloudpickle's arguments for a class's skeleton, with the class's own
    ``__slots__`` added: cloudpickle makes the skeleton without them (it
    keeps ``__slots__`` as a plain attribute), so instances had a
    ``__dict__`` and no slot descriptors, and a slotted dataclass came back
    from a task with its fields' names as their values."""
    slots = cls.__dict__.get("__slots__")
    if slots is None or not (isinstance(newargs, tuple) and len(newargs) == 6 and isinstance(newargs[3], dict)):
        return newargs
    return (*newargs[:3], {**newargs[3], "__slots__": slots}, *newargs[4:])


def with_aliases(cls: Any, newargs: Any) -> Any:
    """cloudpickle's arguments for an Enum's skeleton, with every member
    name: cloudpickle lists the members by iterating the class, which skips
    aliases (``MIN = 1`` beside ``LOW = 1``) and a Flag's combined members
    (``RW = R | W``), so ``Level["MIN"]`` raised KeyError in a worker."""
    if not (isinstance(newargs, tuple) and len(newargs) == 7 and isinstance(newargs[3], dict)):
        return newargs
    members = {name: member.value for name, member in cls.__members__.items()}
    return (*newargs[:3], members, *newargs[4:])


def without_members(cls: Any, state: Any) -> Any:
    """cloudpickle's state of an Enum without any member: it leaves the
    aliases in, which the class then refused to set ("cannot reassign
    member")."""
    if not (isinstance(state, tuple) and len(state) == 2 and isinstance(state[0], dict)):
        return state
    members = cls.__members__
    return ({name: value for name, value in state[0].items() if name not in members}, state[1])
