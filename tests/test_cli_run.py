"""``cli.run``, the program's entry point: a scan ends the process at once, with main()'s output and status."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
EXAMPLE = REPO / "examples" / "dis-mini"

PROGRAM = """
import atexit, sys
atexit.register(lambda: print("ATEXIT", file=sys.stderr))
from dis_audit.cli import {entry}
sys.argv = ["dis-audit", *sys.argv[1:]]
{entry}()
"""


def _run(entry: str, args: list[str]) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", PROGRAM.format(entry=entry), *args], capture_output=True,
                          env={**os.environ, "PYTHONPATH": str(REPO), "COLUMNS": "200"}, check=False)


@pytest.mark.parametrize("case", ["json", "text", "bad-root", "version", "help"])
def test_run_says_what_main_says(tmp_path: Path, case: str) -> None:
    args = {
        "json": ["scan", str(EXAMPLE), "--json"], "text": ["scan", str(EXAMPLE)],
        "bad-root": ["scan", str(tmp_path / "missing")], "version": ["--version"], "help": ["scan", "--help"],
    }[case]
    results = {}
    for entry in ("run", "main"):
        manifest = tmp_path / f"{entry}.parquet"
        extra = ["--manifest", str(manifest)] if case in ("json", "text") else []
        proc = _run(entry, args + extra)
        text = proc.stdout.replace(str(manifest).encode(), b"MANIFEST")
        results[entry] = (proc.returncode, text, proc.stderr.replace(b"ATEXIT\n", b""),
                          manifest.read_bytes() if manifest.exists() else None, b"ATEXIT" in proc.stderr)
    run, main = results["run"], results["main"]
    if case == "json":  # the elapsed time differs
        import json

        strip = [json.loads(r[1]) for r in (run, main)]
        for doc in strip:
            doc["summary"].pop("elapsed_s")
        assert strip[0] == strip[1]
    elif case == "text":  # all but the elapsed time
        import re

        assert re.sub(rb"\([0-9.]+ s\)", b"", run[1]) == re.sub(rb"\([0-9.]+ s\)", b"", main[1])
    else:
        assert run[1] == main[1]
    assert run[0] == main[0] and run[2] == main[2] and run[3] == main[3]
    assert run[0] == {"json": 1, "text": 1, "bad-root": 2, "version": 0, "help": 0}[case]
    # `scan` skips Python's shutdown (so exit handlers do not run); every other command keeps it.
    assert run[4] == (case == "version") and main[4]


def test_run_ends_quietly_when_stdout_closes_early(tmp_path: Path) -> None:
    codes = {}
    for entry in ("run", "main"):
        proc = subprocess.Popen([sys.executable, "-c", PROGRAM.format(entry=entry), "scan", str(EXAMPLE), "--json",
                                 "--manifest", str(tmp_path / f"{entry}.parquet")],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                env={**os.environ, "PYTHONPATH": str(REPO)})
        assert proc.stdout is not None and proc.stderr is not None
        proc.stdout.close()  # a reader that went away (`| head`)
        err = proc.stderr.read()
        codes[entry] = (proc.wait(timeout=60), b"Traceback" in err)
    assert codes["run"] == codes["main"]
    assert codes["run"][1] is False


INTERRUPTED = """
import sys
import dis_audit.findings
def interrupted(*args, **kwargs):
    raise KeyboardInterrupt
dis_audit.findings.rules_markdown = interrupted
from dis_audit.cli import main
sys.argv = ["dis-audit", "rules", "--markdown"]
main()
"""


def test_ctrl_c_in_a_typer_command_says_interrupted_and_exits_130() -> None:
    # typer alone would exit 130 without a word; the scan's fast path and the other commands say the same
    proc = subprocess.run([sys.executable, "-c", INTERRUPTED], capture_output=True, check=False,
                          env={**os.environ, "PYTHONPATH": str(REPO)})
    assert proc.returncode == 130
    assert proc.stderr.strip() == b"dis-audit: interrupted"
    assert proc.stdout == b""
