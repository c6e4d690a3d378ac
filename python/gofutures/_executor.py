"""What both executors share: the stdlib's rules for refusing a submit, the
type variables of their signatures and the types of map."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import BrokenExecutor
from concurrent.futures._base import LOGGER
from typing import (
    TYPE_CHECKING,
    Any,
    ClassVar,
    NoReturn,
    ParamSpec,
    Self,
    SupportsIndex,
    TypeVar,
    TypeVarTuple,
    overload,
)

# submit(fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> Future[T]
P = ParamSpec("P")
T = TypeVar("T")
# map's overloads, one type per iterable (as builtins.map's).
T1 = TypeVar("T1")
T2 = TypeVar("T2")
T3 = TypeVar("T3")
T4 = TypeVar("T4")
T5 = TypeVar("T5")
# initializer(*initargs): the constructors' overloads (as typeshed's).
Ts = TypeVarTuple("Ts")
E = TypeVar("E")


def default_cpu_count() -> int | None:
    """The CPUs the executors' default max_workers counts, as the running
    Python's stdlib does: the ones this process may use on 3.13
    (os.process_cpu_count), all of the machine's before."""
    return getattr(os, "process_cpu_count", os.cpu_count)()


def refuse_submit(
    broken: str | bool | None,
    broken_class: type[BrokenExecutor],
    shutdown: bool,
    interpreter_shutdown: bool,
) -> None:
    """Raise what the stdlib raises for a submit to an executor in this state
    (checked in the stdlib's order: a broken pool says so even after shutdown)."""
    if broken:
        raise broken_class(broken)
    if shutdown:
        raise RuntimeError("cannot schedule new futures after shutdown")
    if interpreter_shutdown:
        raise RuntimeError("cannot schedule new futures after interpreter shutdown")


def shutdown_dropped(shutdown: Callable[[], object], forked: bool, exiting: bool) -> None:
    """A dropped executor's weakref finalizer: shut its pool down without
    waiting, as the stdlib's weakref callback lets its workers finish. Nothing
    in a forked child (the pool is the parent's) or once the exit hook has
    run (it shuts every pool down itself); an error is logged, never raised
    (a finalizer must not raise)."""
    if forked or exiting:
        return
    try:
        shutdown()
    except Exception:
        LOGGER.exception("gofutures: could not shut down a dropped executor's pool")


def shallow_copy(obj: E) -> E:
    """copy.copy of an executor or a future: another object sharing its
    state, as a shallow copy of the stdlib's."""
    clone = object.__new__(type(obj))
    clone.__dict__.update(obj.__dict__)
    return clone


class RefusesPickle:
    """pickle and deepcopy refuse an executor with the stdlib executor's
    error; copy.copy makes a shallow copy, as the stdlib's. A subclass names
    in ``_pickle_refusal`` the object the stdlib's pickling fails on (a
    queue, a lock)."""

    _pickle_refusal: ClassVar[str]

    def __reduce_ex__(self, protocol: SupportsIndex, /) -> NoReturn:
        raise TypeError(f"cannot pickle '{self._pickle_refusal}' object")

    def __copy__(self) -> Self:
        return shallow_copy(self)


class TypedMap:
    """``map`` typed as ``builtins.map``: ``fn`` must take what the iterables
    give (typeshed types the stdlib's ``Executor.map`` with ``Callable[...,
    T]``, which checks nothing). For type checkers only: at run time the
    class is empty and each executor's own ``map`` runs."""

    if TYPE_CHECKING:
        @overload
        def map(
            self,
            fn: Callable[[T1], T],
            iterable: Iterable[T1],
            /,
            *,
            timeout: float | None = None,
            chunksize: int = 1,
            buffersize: int | None = None,
        ) -> Iterator[T]: ...
        @overload
        def map(
            self,
            fn: Callable[[T1, T2], T],
            iter1: Iterable[T1],
            iter2: Iterable[T2],
            /,
            *,
            timeout: float | None = None,
            chunksize: int = 1,
            buffersize: int | None = None,
        ) -> Iterator[T]: ...
        @overload
        def map(
            self,
            fn: Callable[[T1, T2, T3], T],
            iter1: Iterable[T1],
            iter2: Iterable[T2],
            iter3: Iterable[T3],
            /,
            *,
            timeout: float | None = None,
            chunksize: int = 1,
            buffersize: int | None = None,
        ) -> Iterator[T]: ...
        @overload
        def map(
            self,
            fn: Callable[[T1, T2, T3, T4], T],
            iter1: Iterable[T1],
            iter2: Iterable[T2],
            iter3: Iterable[T3],
            iter4: Iterable[T4],
            /,
            *,
            timeout: float | None = None,
            chunksize: int = 1,
            buffersize: int | None = None,
        ) -> Iterator[T]: ...
        @overload
        def map(
            self,
            fn: Callable[[T1, T2, T3, T4, T5], T],
            iter1: Iterable[T1],
            iter2: Iterable[T2],
            iter3: Iterable[T3],
            iter4: Iterable[T4],
            iter5: Iterable[T5],
            /,
            *,
            timeout: float | None = None,
            chunksize: int = 1,
            buffersize: int | None = None,
        ) -> Iterator[T]: ...
        @overload
        def map(
            self,
            fn: Callable[..., T],
            iter1: Iterable[Any],
            iter2: Iterable[Any],
            iter3: Iterable[Any],
            iter4: Iterable[Any],
            iter5: Iterable[Any],
            iter6: Iterable[Any],
            /,
            *iterables: Iterable[Any],
            timeout: float | None = None,
            chunksize: int = 1,
            buffersize: int | None = None,
        ) -> Iterator[T]: ...
        def map(
            self,
            fn: Callable[..., T],
            *iterables: Iterable[Any],
            timeout: float | None = None,
            chunksize: int = 1,
            buffersize: int | None = None,
        ) -> Iterator[T]:
            raise NotImplementedError
