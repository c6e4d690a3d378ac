"""Child side of benchmarks/cpython_suite.py: runs unittest ids, one JSON line each.

Run by the harness as ``python -P -X faulthandler _cpython_suite_child.py ...``
with a shadowing ``test`` package first on sys.path; imports only the stdlib
(so that 'spawn' workers, which re-run this file as ``__mp_main__``, import
nothing else). Not a test module: pytest does not collect it.

Modes:

* ``--list MODULE``: print the ids of MODULE's tests, one JSON list on stdout.
* ``--run IDS_FILE``: run the ids (one per line) in order, appending to
  ``--results`` a ``{"start": id}`` line before each test and an outcome line
  after it. Before each test, faulthandler is armed to dump every thread's
  stack to ``--hang-file`` and exit the process after ``--timeout`` seconds:
  the harness then records the test as hung and runs the rest in a new process.
"""

from __future__ import annotations

import argparse
import faulthandler
import json
import os
import sys
import time
import traceback
import unittest
from collections.abc import Iterator
from types import TracebackType
from typing import IO, Any

_ExcInfo = tuple[type[BaseException], BaseException, TracebackType]


def _iter_tests(suite: unittest.TestSuite | unittest.TestCase) -> Iterator[unittest.TestCase]:
    if isinstance(suite, unittest.TestSuite):
        for t in suite:
            yield from _iter_tests(t)
    else:
        yield suite


def _where(tb: TracebackType | None) -> str:
    """The innermost frame that is in a test module (not unittest, not the stdlib)."""
    where = ""
    for frame in traceback.extract_tb(tb):
        if "test_concurrent_futures" in frame.filename:
            where = f"{os.path.basename(frame.filename)}:{frame.lineno} in {frame.name}"
    return where


def _reason(err: _ExcInfo) -> str:
    lines = traceback.format_exception_only(err[0], err[1])
    text = " ".join(line.strip() for line in lines if line.strip())
    return text[:400]


class JsonResult(unittest.TestResult):
    """Writes one line per outcome; arms faulthandler for each test."""

    def __init__(self, out: IO[str], timeout: float, hang_file: IO[str]) -> None:
        super().__init__()
        self.out = out
        self.timeout = timeout
        self.hang_file = hang_file
        self._current: str | None = None
        self._recorded = False
        self._subfailures: list[dict[str, Any]] = []
        self._t0 = 0.0

    def _write(self, rec: dict[str, Any]) -> None:
        self.out.write(json.dumps(rec) + "\n")
        self.out.flush()

    def _record(self, test: Any, outcome: str, err: _ExcInfo | None = None, **extra: Any) -> None:
        rec: dict[str, Any] = {"id": test.id(), "outcome": outcome}
        if err is not None:
            rec["reason"] = _reason(err)
            rec["where"] = _where(err[2])
            rec["detail"] = "".join(traceback.format_exception(*err))[-6000:]
        rec.update(extra)
        support = sys.modules.get("test.support")
        if getattr(support, "environment_altered", False):
            # threading_cleanup() or reap_children() found leftovers: what
            # regrtest reports as "env changed".
            rec["env_changed"] = True
            support.environment_altered = False  # type: ignore[union-attr]
        if self._current == test.id():
            rec["seconds"] = round(time.monotonic() - self._t0, 3)
            self._recorded = True
        self._write(rec)

    def startTest(self, test: unittest.TestCase) -> None:
        super().startTest(test)
        self._current = test.id()
        self._recorded = False
        self._subfailures = []
        self._t0 = time.monotonic()
        self._write({"start": test.id(), "t": time.time()})
        faulthandler.dump_traceback_later(self.timeout, exit=True, file=self.hang_file)

    def stopTest(self, test: unittest.TestCase) -> None:
        # Re-armed, not cancelled: tearDownClass, tearDownModule and the next
        # setUpClass run between tests, and can hang too.
        faulthandler.dump_traceback_later(self.timeout, exit=True, file=self.hang_file)
        if not self._recorded:
            if self._subfailures:
                first = self._subfailures[0]
                self._record(
                    test,
                    first["outcome"],
                    reason=f"{len(self._subfailures)} subtest(s) failed; first: "
                    f"{first['subtest']}: {first['reason']}",
                    where=first["where"],
                    detail=first["detail"],
                )
            else:
                self._record(test, "error", reason="no outcome reported")
        self._current = None
        super().stopTest(test)

    def addSuccess(self, test: unittest.TestCase) -> None:
        super().addSuccess(test)
        self._record(test, "pass")

    def addFailure(self, test: unittest.TestCase, err: Any) -> None:
        super().addFailure(test, err)
        self._record(test, "fail", err)

    def addError(self, test: unittest.TestCase, err: Any) -> None:
        super().addError(test, err)
        # Errors of setUpModule/setUpClass/cleanups come with an _ErrorHolder
        # whose id is a description, outside startTest/stopTest.
        self._record(test, "error", err, fixture=self._current != test.id())

    def addSkip(self, test: unittest.TestCase, reason: str) -> None:
        super().addSkip(test, reason)
        self._record(test, "skip", reason=reason[:400], fixture=self._current != test.id())

    def addExpectedFailure(self, test: unittest.TestCase, err: Any) -> None:
        super().addExpectedFailure(test, err)
        self._record(test, "xfail", err)

    def addUnexpectedSuccess(self, test: unittest.TestCase) -> None:
        super().addUnexpectedSuccess(test)
        self._record(test, "xpass", reason="unexpected success")

    def addSubTest(self, test: unittest.TestCase, subtest: unittest.TestCase, err: Any) -> None:
        super().addSubTest(test, subtest, err)
        if err is not None:
            failed = issubclass(err[0], test.failureException)
            self._subfailures.append(
                {
                    "outcome": "fail" if failed else "error",
                    "subtest": subtest._subDescription(),  # type: ignore[attr-defined]
                    "reason": _reason(err),
                    "where": _where(err[2]),
                    "detail": "".join(traceback.format_exception(*err))[-6000:],
                }
            )


def _list(module: str) -> int:
    loader = unittest.TestLoader()
    suite = loader.loadTestsFromName(module)
    ids = [t.id() for t in _iter_tests(suite)]
    errors = [str(e)[:2000] for e in loader.errors]
    json.dump({"ids": ids, "errors": errors}, sys.stdout)
    return 0


def _run(ids_file: str, results: str, hang_file: str, timeout: float) -> int:
    with open(ids_file) as f:
        ids = [line.strip() for line in f if line.strip()]
    loader = unittest.TestLoader()
    suite = unittest.TestSuite()
    with open(results, "a", buffering=1) as out, open(hang_file, "a") as hang:
        for tid in ids:
            try:
                suite.addTests(loader.loadTestsFromName(tid))
            except Exception as e:
                out.write(
                    json.dumps({"id": tid, "outcome": "error", "reason": f"cannot load: {e!r}"[:400]})
                    + "\n"
                )
        out.write(json.dumps({"loaded": True, "t": time.time()}) + "\n")
        result = JsonResult(out, timeout, hang)
        # A hang in a module or class fixture (outside any test) is caught too.
        faulthandler.dump_traceback_later(timeout, exit=True, file=hang)
        suite.run(result)
        faulthandler.cancel_dump_traceback_later()
        out.write(json.dumps({"done": True, "t": time.time()}) + "\n")
    return 0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--list", metavar="MODULE")
    p.add_argument("--run", metavar="IDS_FILE")
    p.add_argument("--results")
    p.add_argument("--hang-file")
    p.add_argument("--timeout", type=float, default=120.0)
    a = p.parse_args(argv)
    if a.list:
        return _list(a.list)
    return _run(a.run, a.results, a.hang_file, a.timeout)


if __name__ == "__main__":
    sys.exit(main())
