"""What both executors share: the stdlib's rules for refusing a submit."""

from __future__ import annotations

from concurrent.futures import BrokenExecutor


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
