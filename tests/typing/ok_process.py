# pyright: strict
"""User code that type checkers must accept (mypy --strict, pyright strict):
gofutures' process pool, typed as the stdlib's is, and its mp_context that
may name a start method. tests/test_typing.py checks it with both, and runs
it."""

from __future__ import annotations

import multiprocessing as mp

import gofutures.process

import gofutures as cf

_offset = 0


def set_offset(offset: int) -> None:
    global _offset
    _offset = offset


def shifted(x: int) -> int:
    return x + _offset


def power(base: int, exp: int) -> int:
    return int(base**exp)


def main() -> None:
    with cf.ProcessPoolExecutor(2, mp_context="spawn") as ex:
        same: gofutures.process.ProcessPoolExecutor = ex
        fut: cf.Future[int] = ex.submit(power, 2, exp=10)
        value: int = fut.result(timeout=60)
        powers: list[int] = list(same.map(power, [2, 3], [3, 2], chunksize=2))
        lazy: list[int] = list(ex.map(power, [2, 3], [3, 2], chunksize=1, buffersize=1))

    context = mp.get_context("forkserver")
    with cf.ProcessPoolExecutor(
        max_workers=1,
        mp_context=context,
        initializer=set_offset,
        initargs=(100,),
        max_tasks_per_child=10,
    ) as ex:
        moved: list[int] = list(ex.map(shifted, range(3), timeout=60))
        futures = {ex.submit(shifted, i): i for i in range(3)}
        by_input: dict[int, int] = {futures[f]: f.result() for f in cf.as_completed(futures)}

    pool = cf.ProcessPoolExecutor(None, None, set_offset, (5,))
    five = -1
    try:
        five = pool.submit(shifted, 0).result(timeout=60)
    except cf.BrokenExecutor as exc:
        print("broken:", exc)
    finally:
        pool.shutdown(wait=True, cancel_futures=True)

    # gofutures' per-task fates.
    with cf.ProcessPoolExecutor(1, task_timeout=60.0, on_worker_death="fail_task") as ex:
        timed: cf.Future[int] = ex.schedule(power, (2,), {"exp": 3}, timeout=30)
        eight: int = timed.result(timeout=60)
        stopped: bool = ex.terminate_task(timed)
        try:
            ex.submit(shifted, 1).result(timeout=60)
        except cf.WorkerDiedError as exc:
            why: tuple[int, int | None, int | None] = (exc.pid, exc.exitcode, exc.signal)
            print(why)

    print(value, powers, lazy, moved, sorted(by_input.items()), five, eight, stopped)


if __name__ == "__main__":
    main()
