"""Benchmarks: gofutures against concurrent.futures, loky and pebble.

Run from the repository root::

    python -m benchmarks [--quick] [--only PATTERN] [--repeat N] [--json PATH]

See benchmarks/README.md for what each workload measures and how to read the
ratios. Task functions live in benchmarks.tasks so that worker processes
(including stdlib 'spawn' workers) can import them.
"""
