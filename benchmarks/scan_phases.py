"""Where a CLI scan spends its time: wall and CPU per phase of one ``dis-audit scan`` run, in-process.

    python benchmarks/scan_phases.py scan /tmp/dis-audit-bench/tree-50000 --json [--incremental] ...

Runs the console entry point (``dis_audit.cli.main``) with the arguments given and prints, for each
phase (imports, option parsing, configuration, the table modules' import and the previous manifest's
read while a child lists, the wait for the listing, the worker pool, the manifest checks, the summary,
the manifest write, the report), the wall time, the main process's CPU and the CPU of the
worker processes (counted when the pool is shut down). The tree is the one ``scan_bench.py`` builds.
A phase shows only when the command reaches it; ``> name`` marks its start, ``< name`` its end.
"""

from __future__ import annotations

import importlib
import os
import resource
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
T0 = time.perf_counter()
MARKS: list[tuple[str, float, float, float]] = []


def mark(name: str) -> None:
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    MARKS.append((name, time.perf_counter() - T0, own.ru_utime + own.ru_stime,
                  children.ru_utime + children.ru_stime))


def timed(module: str, name: str) -> None:
    """Wrap ``module.name`` so that each call marks its start and end."""
    owner = importlib.import_module(module)
    fn = getattr(owner, name)

    def wrapper(*args, **kwargs):
        mark(f"> {name}")
        try:
            return fn(*args, **kwargs)
        finally:
            mark(f"< {name}")

    setattr(owner, name, wrapper)


def main() -> None:
    mark("start")
    import dis_audit.cli as cli

    mark("imports")
    for module, name in [
        ("dis_audit.cli._fastpath", "parse"), ("dis_audit.cli.scan", "output_format_of"),
        ("dis_audit.cli.scan", "settings_for"), ("dis_audit.cli.scan", "vocabulary_for"),
        ("dis_audit.scan", "import_table_modules"), ("dis_audit.scan", "_read_previous"),
        ("dis_audit.scan", "plan_reuse"), ("dis_audit.scan", "run_tasks"), ("dis_audit.scan", "strip_cross_file"),
        ("dis_audit.scan", "run_manifest_checks"), ("dis_audit.scan", "summarize"),
        ("dis_audit.cli.scan", "render_result"),
    ]:
        timed(module, name)  # import_module gives the submodule dis_audit.scan, not the function
    from dis_audit._prelist import ListingJob
    from dis_audit.summary import ScanResult

    def timed_method(owner, name: str) -> None:
        fn = getattr(owner, name)

        def wrapper(self, *args, **kwargs):
            mark(f"> {name}")
            try:
                return fn(self, *args, **kwargs)
            finally:
                mark(f"< {name}")

        setattr(owner, name, wrapper)

    timed_method(ScanResult, "write_manifest")
    # The listing itself (in a child where _prelist forks one): `result` waits for it.
    timed_method(ListingJob, "result")
    sys.argv = ["dis-audit", *sys.argv[1:]]
    stdout, sys.stdout = sys.stdout, open(os.devnull, "w")
    try:
        cli.main()
    except SystemExit:
        pass
    finally:
        sys.stdout = stdout
    mark("end")
    previous = MARKS[0]
    print(f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    for name, at, own, children in MARKS:
        print(f"{name:22s} t={at:6.3f} s (+{at - previous[1]:5.3f})  main CPU {own:5.2f} s (+{own - previous[2]:5.2f})"
              f"  workers CPU {children:5.2f} s (+{children - previous[3]:5.2f})")
        previous = (name, at, own, children)


if __name__ == "__main__":
    main()
