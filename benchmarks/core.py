"""Shared types: workloads, contenders, measurements, the run context."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from benchmarks.impls import Impl


class VerificationError(AssertionError):
    """A workload's results were wrong: the run does not count."""


def check(condition: bool, message: str) -> None:
    if not condition:
        raise VerificationError(message)


@dataclass
class Measurement:
    seconds: float
    tasks: int
    extra: dict[str, Any] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)


@dataclass
class Contender:
    label: str  # e.g. "gofutures", "stdlib[spawn]"
    impl: str  # implementation name
    run: Callable[[], Measurement]
    baseline: str | None = "stdlib"  # label whose time the ratio divides
    notes: list[str] = field(default_factory=list)


@dataclass
class Context:
    quick: bool
    repeat: int
    timeout: float
    impls: dict[str, Impl]
    sizes: dict[str, Any]
    notes: list[str] = field(default_factory=list)

    def note(self, text: str) -> None:
        if text not in self.notes:
            self.notes.append(text)

    def available(self, *, threads: bool = False) -> list[Impl]:
        out = []
        for impl in self.impls.values():
            if not impl.available:
                self.note(f"{impl.name}: not importable ({impl.error}); skipped")
                continue
            if threads and not impl.has_threads:
                self.note(f"{impl.name}: has no thread pool; thread workloads skip it")
                continue
            out.append(impl)
        return out


@dataclass
class Workload:
    """A timed workload: contenders run interleaved, best of `repeat` kept.

    `build` returns the contenders (it may add notes to the context and skip
    implementations); `finalize` may add per-row notes once all ran.
    """

    name: str
    kind: str  # "thread" or "process"
    description: str
    build: Callable[[Context], list[Contender]]
    finalize: Callable[[list[dict[str, Any]], Context], None] | None = None


@dataclass
class Section:
    """An untimed-table workload (memory, overhead) with its own report."""

    name: str
    description: str
    run: Callable[[Context], list[dict[str, Any]]]
