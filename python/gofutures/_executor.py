"""What both executors share: the stdlib's rules for refusing a submit, and
the type variables of their signatures."""

from __future__ import annotations

from concurrent.futures import BrokenExecutor
from typing import ParamSpec, TypeVar, TypeVarTuple

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
