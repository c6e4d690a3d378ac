"""``python -m gofutures script.py [args...]`` or ``python -m gofutures -m
module [args...]``: run a program with ``concurrent.futures``' executors
replaced by gofutures' (see ``gofutures._run``)."""

if __name__ == "__main__":
    from gofutures._run import main

    main()
