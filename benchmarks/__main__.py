"""Entry point: ``python -m benchmarks``.

Everything runs under the ``__main__`` guard: stdlib 'spawn' and loky workers
re-import this module as ``__mp_main__`` and must not start a benchmark run.
"""

import os
import sys

# The repository root, so that `benchmarks.tasks` is importable here and in
# every worker process (spawned workers inherit sys.path from this process).
_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if _ROOT not in sys.path:
    sys.path.insert(0, _ROOT)

if __name__ == "__main__":
    from benchmarks.runner import main

    sys.exit(main())
