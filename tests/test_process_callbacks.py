"""Done-callbacks of process futures run on the pump thread: whatever they do
(shut the pool down, raise KeyboardInterrupt or SystemExit) must not stop the
pool from completing every future."""

from __future__ import annotations

from pathlib import Path

import pytest

from ._scripts import assert_same_output, run_script


def test_callback_that_shuts_down_with_wait_does_not_deadlock(tmp_path: Path) -> None:
    gof = assert_same_output(
        tmp_path,
        """
        import time
        import __CF__ as cf

        def slow_square(x):
            time.sleep(0.3)
            return x * x

        if __name__ == "__main__":
            ex = cf.ProcessPoolExecutor(2)
            first = ex.submit(slow_square, 1)
            errors = []
            def stop(_):
                try:
                    ex.shutdown(wait=True)
                except RuntimeError as exc:
                    errors.append(str(exc))
            first.add_done_callback(stop)
            rest = [ex.submit(slow_square, i) for i in range(2, 8)]
            print([f.result(timeout=60) for f in [first, *rest]])
            ex.shutdown()
            print(errors)
        """,
        timeout=120,
    )
    assert "cannot join current thread" in gof.stdout


@pytest.mark.parametrize("exc", ["KeyboardInterrupt", "SystemExit"])
def test_callbacks_raising_base_exceptions_lose_no_future(tmp_path: Path, exc: str) -> None:
    # The stdlib's manager thread dies at the first one and loses the rest
    # (so only gofutures runs this); the gofutures thread pool loses none.
    proc = run_script(
        tmp_path,
        f"""
        import __CF__ as cf

        def boom(_):
            raise {exc}

        if __name__ == "__main__":
            with cf.ProcessPoolExecutor(2) as ex:
                futures = []
                for i in range(3000):
                    f = ex.submit(abs, -i)
                    f.add_done_callback(boom)
                    futures.append(f)
                done, not_done = cf.wait(futures, timeout=120)
                print(len(done), len(not_done), sum(f.result() for f in done))
        """,
        "gofutures",
        timeout=180,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["3000", "0", str(sum(range(3000)))]


def test_callback_of_a_future_cancelled_by_shutdown_may_submit(tmp_path: Path) -> None:
    # shutdown(cancel_futures=True) runs the cancelled futures' callbacks; one
    # that submits gets the stdlib's RuntimeError (it used to wait forever
    # for the pool's lock, held around the cancellations).
    gof = assert_same_output(
        tmp_path,
        """
        import time
        import __CF__ as cf

        def callback(_):
            try:
                ex.submit(pow, 2, 2)
            except RuntimeError as exc:
                print("callback:", exc, flush=True)

        if __name__ == "__main__":
            ex = cf.ProcessPoolExecutor(1)
            futures = [ex.submit(time.sleep, 0.3) for _ in range(8)]
            futures[-1].add_done_callback(callback)
            ex.shutdown(cancel_futures=True)
            print("cancelled:", futures[-1].cancelled())
        """,
        timeout=60,
    )
    assert "callback: cannot schedule new futures after shutdown" in gof.stdout


def test_callback_of_a_cancelled_future_may_use_the_pool(tmp_path: Path) -> None:
    # cancel() runs the callbacks with no lock held, as the stdlib's does: a
    # callback that submits and waits for the result while the pool is busy
    # completing other futures must not deadlock.
    assert_same_output(
        tmp_path,
        """
        import time
        import __CF__ as cf

        if __name__ == "__main__":
            with cf.ProcessPoolExecutor(1) as ex:
                results = []
                futures = [ex.submit(time.sleep, 0.05) for _ in range(12)]
                def callback(_):
                    results.append(ex.submit(pow, 2, 5).result(timeout=30))
                futures[-1].add_done_callback(callback)
                print("cancelled:", futures[-1].cancel())
                for f in futures[:-1]:
                    f.result(timeout=30)
                print(results)
        """,
        timeout=90,
    )


def test_thread_started_by_a_callback_outlives_the_program_main(tmp_path: Path) -> None:
    # The stdlib runs done-callbacks on its manager thread, a non-daemon
    # Thread: a Thread started there is not a daemon, and interpreter exit
    # waits for it. gofutures' pump is a C thread that threading saw as a
    # daemon _DummyThread, so the thread inherited daemon=True and its print
    # was lost at exit.
    assert_same_output(
        tmp_path,
        """
        import threading
        import time
        import __CF__ as cf

        def later():
            time.sleep(0.3)
            print("later: callback", flush=True)

        def callback(_):
            print("callback thread daemon:", threading.current_thread().daemon, flush=True)
            threading.Thread(target=later).start()

        if __name__ == "__main__":
            with cf.ProcessPoolExecutor(1) as ex:
                f = ex.submit(pow, 2, 2)
                f.add_done_callback(callback)
                f.result()
                time.sleep(0.1)  # the callback ran
            print("main done", flush=True)
        """,
    )


def test_futures_repr_and_callback_log_line_say_future(tmp_path: Path) -> None:
    # The stdlib's futures are all Future; gofutures' process futures (and a
    # thread pool's Go-task futures) showed their private class in repr(),
    # type(f).__name__ and the "exception calling callback for" log line.
    assert_same_output(
        tmp_path,
        """
        import logging
        import re
        import __CF__ as cf
        from gofutures import io

        class Print(logging.Handler):
            def emit(self, record):
                print("logged:", shown(record.getMessage()))

        logging.getLogger("concurrent.futures").addHandler(Print())

        def shown(text):
            return re.sub(r"0x[0-9a-f]+", "0x...", text)

        def fail(_):
            raise ValueError("callback fails")

        if __name__ == "__main__":
            with cf.ProcessPoolExecutor(1) as ex:
                f = ex.submit(divmod, 1, 0)
                f.exception()
                print(shown(repr(f)), type(f).__name__)
                f.add_done_callback(fail)
            with cf.ThreadPoolExecutor(1) as ex:
                f = ex.submit(io.sleep, 0)
                f.result()
                print(shown(repr(f)), type(f).__name__)
                f.add_done_callback(fail)
        """,
    )
