"""Globals of a script's ``__main__`` in process-pool workers, as real scripts.

Initializers exist to set up per-worker state (a connection, a model) in
module globals that later tasks read; a task may also keep state for the
next one. Both implementations must print the same thing.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from ._scripts import assert_same_output

CONTEXTS = [None, "fork", "forkserver", "spawn"]

INITIALIZER_SETS_GLOBAL = """
import multiprocessing as mp
import __CF__ as cf

V = None
CACHE = {}

def init(v):
    global V
    V = v
    CACHE["model"] = v.upper()

def get(_):
    return V, CACHE.get("model")

if __name__ == "__main__":
    ctx = {ctx!r}
    with cf.ProcessPoolExecutor(
        2, mp_context=ctx and mp.get_context(ctx), initializer=init, initargs=("x",)
    ) as ex:
        print(sorted(set(ex.map(get, range(20)))))
"""


@pytest.mark.parametrize("ctx", CONTEXTS)
def test_initializer_sets_a_global_that_tasks_read(tmp_path: Path, ctx: str | None) -> None:
    gof = assert_same_output(tmp_path, INITIALIZER_SETS_GLOBAL.replace("{ctx!r}", repr(ctx)))
    assert gof.stdout == "[('x', 'X')]\n"


def test_initializer_global_without_main_guard(tmp_path: Path) -> None:
    # Without a main guard only the fork start method works in the stdlib.
    gof = assert_same_output(
        tmp_path,
        """
        import __CF__ as cf
        V = None
        def init(v):
            global V
            V = v
        def get(_):
            return V
        with cf.ProcessPoolExecutor(2, initializer=init, initargs=("x",)) as ex:
            print(set(ex.map(get, range(10))))
        """,
    )
    assert gof.stdout == "{'x'}\n"


@pytest.mark.parametrize("ctx", CONTEXTS)
def test_a_task_keeps_state_for_the_next_task_on_its_worker(tmp_path: Path, ctx: str | None) -> None:
    gof = assert_same_output(
        tmp_path,
        """
        import multiprocessing as mp
        import __CF__ as cf
        CALLS = 0
        SEEN = []
        def count(x):
            global CALLS
            CALLS += 1
            SEEN.append(x)
            return CALLS, len(SEEN)
        if __name__ == "__main__":
            ctx = {ctx!r}
            with cf.ProcessPoolExecutor(1, mp_context=ctx and mp.get_context(ctx)) as ex:
                print([ex.submit(count, i).result() for i in range(5)])
        """.replace("{ctx!r}", repr(ctx)),
    )
    assert gof.stdout == "[(1, 1), (2, 2), (3, 3), (4, 4), (5, 5)]\n"


def test_helpers_and_classes_of_main_share_the_namespace(tmp_path: Path) -> None:
    assert_same_output(
        tmp_path,
        """
        import __CF__ as cf
        STATE = {"n": 0}
        class Counter:
            def bump(self):
                STATE["n"] += 1
                return STATE["n"]
        def helper():
            return Counter().bump()
        def init():
            STATE["n"] = 100
        def task(_):
            return helper()
        if __name__ == "__main__":
            with cf.ProcessPoolExecutor(1, initializer=init) as ex:
                print(list(ex.map(task, range(3))))
        """,
    )


def test_result_that_cannot_be_pickled_fails_with_the_workers_pickling_error(
    tmp_path: Path,
) -> None:
    # A lambda or a local class or function returned from __main__ code: the
    # worker's pickling error, with its traceback as cause, as in the stdlib.
    # Before, a reference was pickled instead and the parent's lookup failed:
    # "AttributeError: 'function' object has no attribute '<locals>'", no cause.
    assert_same_output(
        tmp_path,
        """
        import re
        import __CF__ as cf

        top_lambda = lambda: 2

        def local_lambda():
            return lambda: 1

        def local_class():
            class Local:
                pass
            return Local()

        def main_lambda():
            return top_lambda

        if __name__ == "__main__":
            with cf.ProcessPoolExecutor(1) as ex:
                for fn in (local_lambda, local_class, main_lambda):
                    exc = ex.submit(fn).exception(timeout=60)
                    print(fn.__name__, type(exc).__name__, re.sub(r"0x[0-9a-f]+", "0x...", str(exc)),
                          type(exc.__cause__).__name__)
                print(ex.submit(pow, 2, 5).result(timeout=60))
        """,
    )


@pytest.mark.parametrize("ctx", CONTEXTS)
def test_a_task_pickles_main_objects_itself(tmp_path: Path, ctx: str | None) -> None:
    # The stdlib's 'spawn'/'forkserver' workers load the script as
    # __mp_main__, so plain pickle inside a task finds its classes and
    # functions: an object put on a queue, a function a multiprocessing.Pool
    # started by the task runs. gofutures' fresh workers kept __main__ code
    # in a namespace that sys.modules["__main__"] was not: PicklingError,
    # and the queue's feeder thread dropped the item.
    assert_same_output(
        tmp_path,
        f"""
        import dataclasses, os, pickle
        import multiprocessing as mp
        import __CF__ as cf

        @dataclasses.dataclass
        class Progress:
            n: int

        @dataclasses.dataclass
        class Point:
            x: int

        def square(x):
            return x * x

        def roundtrip(obj):  # Point arrives only as an argument's class
            return pickle.loads(pickle.dumps(obj)) == obj

        def report(q, n):
            q.put(Progress(n))
            return pickle.loads(pickle.dumps(Progress(n))) == Progress(n)

        def fan_out(n):
            with mp.get_context("spawn").Pool(2) as pool:
                return sum(pool.map(square, range(n)))

        def main_file():
            import __main__
            return os.path.basename(__main__.__file__), __main__.__name__, __name__

        if __name__ == "__main__":
            ctx = mp.get_context({ctx!r}) if {ctx!r} else None
            with mp.Manager() as manager:
                q = manager.Queue()
                with cf.ProcessPoolExecutor(1, mp_context=ctx) as ex:
                    print(ex.submit(report, q, 1).result(), q.get(timeout=10))
                    print(ex.submit(fan_out, 10).result(timeout=60))
                    print(ex.submit(main_file).result())
                    print(ex.submit(roundtrip, Point(1)).result())
        """,
        timeout=120,
    )


# What a worker assigns to a __main__ class stays, as for a global: the
# class is not reset to the program's attributes each time it arrives.
INITIALIZER_SETS_CLASS_ATTRIBUTES = """
import multiprocessing as mp
import __CF__ as cf

class Registry:
    value = "program default"
    items = []

def init():
    Registry.value = "set by initializer"
    Registry.items = ["from init"]

def task(i):
    Registry.items.append(i)
    return Registry.value, list(Registry.items)

def task_with_instance(obj, i):
    return task(i)

if __name__ == "__main__":
    ctx = {ctx!r}
    with cf.ProcessPoolExecutor(1, mp_context=ctx and mp.get_context(ctx), initializer=init) as ex:
        print(ex.submit(task, 1).result())
        print(ex.submit(task, 2).result())
        print(ex.submit(task_with_instance, Registry(), 3).result())
"""


@pytest.mark.parametrize("ctx", CONTEXTS)
def test_an_initializer_sets_class_attributes_that_tasks_read(tmp_path: Path, ctx: str | None) -> None:
    gof = assert_same_output(tmp_path, INITIALIZER_SETS_CLASS_ATTRIBUTES.replace("{ctx!r}", repr(ctx)))
    assert gof.stdout.splitlines()[-1] == "('set by initializer', ['from init', 1, 2, 3])"


# Slotted classes of __main__, and a frozen slotted dataclass (whose
# decorator replaces the class: the methods it made still refer to the
# first one).
SLOTTED_MAIN_CLASSES = """
import dataclasses
import multiprocessing as mp
import __CF__ as cf

@dataclasses.dataclass(frozen=True, slots=True)
class Point:
    x: int
    y: int

class Pair:
    __slots__ = ("a", "b")
    def __init__(self, a, b):
        self.a, self.b = a, b
    def __repr__(self):
        return f"Pair({self.a}, {self.b})"

def shift(p):
    q = Point(p.x + 1, p.y)
    return q, hasattr(q, "__dict__"), type(q) is Point

def swap(pair):
    return Pair(pair.b, pair.a)

if __name__ == "__main__":
    ctx = {ctx!r}
    with cf.ProcessPoolExecutor(1, mp_context=ctx and mp.get_context(ctx)) as ex:
        print(ex.submit(shift, Point(1, 2)).result())
        print(ex.submit(swap, Pair(1, 2)).result())
"""


@pytest.mark.parametrize("ctx", CONTEXTS)
def test_slotted_main_classes_travel_with_their_slots(tmp_path: Path, ctx: str | None) -> None:
    gof = assert_same_output(tmp_path, SLOTTED_MAIN_CLASSES.replace("{ctx!r}", repr(ctx)))
    assert gof.stdout == "(Point(x=2, y=2), False, True)\nPair(2, 1)\n"


# functools.cache / lru_cache functions of __main__ pickle by name; their
# cache lasts from task to task on a worker.
CACHED_MAIN_FUNCTIONS = """
import functools
import multiprocessing as mp
import __CF__ as cf

@functools.cache
def fib(n):
    return n if n < 2 else fib(n - 1) + fib(n - 2)

@functools.lru_cache(maxsize=8, typed=True)
def double(x):
    return x * 2

def task(n):
    return fib(n), double(n), fib.cache_info().currsize > 0, double.cache_parameters()

if __name__ == "__main__":
    ctx = {ctx!r}
    with cf.ProcessPoolExecutor(1, mp_context=ctx and mp.get_context(ctx)) as ex:
        print(ex.submit(task, 80).result())
        print(ex.submit(double, 21).result())
        print(list(ex.map(fib, [10, 20])))
"""


@pytest.mark.parametrize("ctx", CONTEXTS)
def test_cached_main_functions_work_in_tasks(tmp_path: Path, ctx: str | None) -> None:
    gof = assert_same_output(tmp_path, CACHED_MAIN_FUNCTIONS.replace("{ctx!r}", repr(ctx)))
    assert gof.stdout.splitlines()[:3] == [
        "(23416728348467685, 160, True, {'maxsize': 8, 'typed': True})",
        "42",
        "[55, 6765]",
    ]


# __main__ objects that cloudpickle cannot send as they are: gofutures'
# fresh workers make them from a recipe, as the stdlib's re-run script
# makes them at import.
MAIN_OBJECTS_MADE_FROM_RECIPES = """
import contextvars, enum, functools, queue, threading, typing, weakref
import multiprocessing as mp
import __CF__ as cf

LOCK = threading.Lock()
RLOCK = threading.RLock()
READY = threading.Event()
LOCAL = threading.local()
LOCAL.value = "set at import"
VAR = contextvars.ContextVar("VAR", default=7)
JOBS = queue.Queue(maxsize=3)
SEEN = weakref.WeakValueDictionary()

class Pt(typing.NamedTuple):
    x: int
    y: int = 0

class Level(enum.Enum):
    LOW = 1
    MIN = 1
    HIGH = 2

class Perm(enum.Flag):
    R = 4
    W = 2
    RW = 6

class Handler:
    registry = {}
    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        Handler.registry[cls.__name__] = cls

class Json(Handler):
    def handle(self):
        return "json"

class Circle:
    def __init__(self, r):
        self.r = r
    @functools.cached_property
    def area(self):
        return 3 * self.r * self.r

@functools.singledispatch
def describe(x):
    return "thing"

@describe.register
def _(x: int):
    return "int"

def globals_task(i):
    with LOCK, RLOCK:
        READY.set()
        JOBS.put(i)
        return (READY.is_set(), JOBS.qsize(), getattr(LOCAL, "value", None), VAR.get(), len(SEEN))

def classes_task(i):
    return (Pt(i), Level["MIN"], list(Level.__members__), Perm.R | Perm.W, Perm["RW"],
            Handler.registry["Json"]().handle(), Json().handle(), Circle(i).area, describe(i), describe("s"))

if __name__ == "__main__":
    ctx = {ctx!r}
    with cf.ProcessPoolExecutor(1, mp_context=ctx and mp.get_context(ctx)) as ex:
        for task in (globals_task, classes_task, globals_task, classes_task):
            print(ex.submit(task, 2).result())
"""


@pytest.mark.parametrize("ctx", CONTEXTS)
def test_main_objects_that_pickle_cannot_carry_are_made_in_the_worker(tmp_path: Path, ctx: str | None) -> None:
    gof = assert_same_output(tmp_path, MAIN_OBJECTS_MADE_FROM_RECIPES.replace("{ctx!r}", repr(ctx)))
    lines = gof.stdout.splitlines()
    assert lines[:2] == [
        "(True, 1, 'set at import', 7, 0)",
        (
            "(Pt(x=2, y=0), <Level.LOW: 1>, ['LOW', 'MIN', 'HIGH'], <Perm.RW: 6>, <Perm.RW: 6>,"
            " 'json', 'json', 12, 'int', 'thing')"
        ),
    ]
    assert lines[2] == "(True, 2, 'set at import', 7, 0)"
