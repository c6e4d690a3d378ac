"""A process forked after the Go runtime started (os.fork, multiprocessing's
'fork') cannot use that runtime: executors made before the fork raise a
clear RuntimeError there instead of hanging, and executors made in the child
work, as the stdlib's do."""

from __future__ import annotations

from pathlib import Path

from ._scripts import assert_same_output, run_script


def test_inherited_process_pool_raises_in_a_forked_child(tmp_path: Path) -> None:
    proc = run_script(
        tmp_path,
        """
        import os, signal
        import __CF__ as cf

        if __name__ == "__main__":
            ex = cf.ProcessPoolExecutor(2)
            print(ex.submit(abs, -1).result())
            outcomes = []
            for _ in range(30):
                pid = os.fork()
                if pid == 0:
                    signal.alarm(20)  # a hang must fail the test, not stall it
                    try:
                        ex.submit(abs, -2).result(timeout=10)
                        os._exit(2)
                    except RuntimeError as exc:
                        os._exit(0 if "forked" in str(exc) else 3)
                    except BaseException:
                        os._exit(4)
                _, status = os.waitpid(pid, 0)
                outcomes.append(os.waitstatus_to_exitcode(status))
            print(outcomes.count(0), sorted(set(outcomes)))
            ex.shutdown()
        """,
        "gofutures",
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split("\n")[:2] == ["1", "30 [0]"]


def test_pools_made_in_a_forked_child_work(tmp_path: Path) -> None:
    assert_same_output(
        tmp_path,
        """
        import multiprocessing as mp
        import __CF__ as cf

        def square(x):
            return x * x

        def child(q):
            with cf.ProcessPoolExecutor(2) as ex:
                q.put(list(ex.map(square, range(6))))

        if __name__ == "__main__":
            with cf.ProcessPoolExecutor(2) as ex:  # the parent's runtime is loaded
                print(ex.submit(square, 3).result())
            ctx = mp.get_context("fork")
            q = ctx.Queue()
            p = ctx.Process(target=child, args=(q,))
            p.start()
            print(q.get(timeout=60))
            p.join(60)
            print(p.exitcode)
        """,
        timeout=120,
    )


def test_process_pool_named_start_method_in_a_forked_child(tmp_path: Path) -> None:
    """gofutures-only (the stdlib takes no str mp_context): a start method
    given by name also works for the stdlib pool that a forked child runs."""
    proc = run_script(
        tmp_path,
        """
        import multiprocessing as mp
        import __CF__ as cf

        def square(x):
            return x * x

        def child(q):
            try:
                with cf.ProcessPoolExecutor(1, mp_context="spawn") as ex:
                    q.put((ex.submit(square, 4).result(timeout=60), ex._mp_context.get_start_method()))
            except BaseException as exc:
                q.put(repr(exc))

        if __name__ == "__main__":
            with cf.ProcessPoolExecutor(1) as ex:  # the parent's runtime is loaded
                print(ex.submit(square, 3).result())
            ctx = mp.get_context("fork")
            q = ctx.Queue()
            p = ctx.Process(target=child, args=(q,))
            p.start()
            print(q.get(timeout=90))
            p.join(60)
            print(p.exitcode)
        """,
        "gofutures",
        timeout=150,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split("\n")[:3] == ["9", "(16, 'spawn')", "0"], proc.stdout + proc.stderr
