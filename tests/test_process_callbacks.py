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
