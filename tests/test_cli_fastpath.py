"""The typer-free parse of plain `dis-audit scan` command lines gives what typer gives, or steps aside."""

from __future__ import annotations

import functools
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Annotated

import pytest
import typer
import typer.main

from dis_audit.cli import app
from dis_audit.cli._fastpath import command_spec, parse
from dis_audit.cli.scan import scan

REPO = Path(__file__).resolve().parents[1]
SPEC = command_spec(scan)


def typer_kwargs(argv: list[str]) -> dict:
    """The keyword arguments typer itself calls the scan command with for ``argv``."""
    got: dict = {}

    @functools.wraps(scan)
    def capture(**kwargs):
        got.update(kwargs)

    single = typer.Typer()
    single.command()(capture)
    typer.main.get_command(single).main(list(argv), standalone_mode=False)
    return got


def test_option_table_is_typers():
    """Every switch of the scan command, flag or not, repeatable or not, as typer's click command has it."""
    command = typer.main.get_command(app).commands["scan"]  # type: ignore[attr-defined]
    theirs = {}
    for param in command.params:
        if param.param_type_name == "argument":
            assert param.name == SPEC.argument
            continue
        for switch in param.opts:
            theirs[switch] = (param.name, bool(param.is_flag), bool(param.multiple), True)
        for switch in param.secondary_opts:
            theirs[switch] = (param.name, bool(param.is_flag), bool(param.multiple), False)
    mine = {switch: (o.name, o.kind is bool, o.multiple, switch == o.on) for switch, o in SPEC.options.items()}
    assert mine == theirs


@pytest.mark.parametrize("argv", [
    ["data"],
    ["data", "--json"],
    ["--incremental", "data", "--manifest", "m.parquet", "--json"],
    ["data", "--select", "DA1", "--select", "DA403,size-mismatch", "--ignore=DA2", "--workers", "3"],
    ["data", "--deep", "--max-pixels", "1000", "--near-dup-distance", "16", "--quality-threshold", "dark_high=60"],
    ["data", "--no-deep", "--no-extend-vocab", "--max-examples=0", "--output-format", "sarif"],
    ["data", "--extend-vocab", "--classes", "infer", "--difficulty-map", "DIS-TE1=easy", "--datasets", "A+B"],
    ["data", "--no-manifest", "--html", "r.html", "--eval-datasets", "DIS-VD", "--shard", "0/2", "--loader", "dis-audit"],
    ["data", "--config", "c.toml", "--isolated", "--show-config", "--executor", "ray", "--ray-address", "auto"],
    ["data", "--image-dir", "im", "--mask-dir", "gt", "--near-dup-distance", "0"],
])
def test_same_values_as_typer(argv):
    mine = parse(SPEC, argv)
    assert mine is not None
    assert mine == typer_kwargs(argv)
    assert all(type(mine[k]) is type(v) for k, v in typer_kwargs(argv).items())


@pytest.mark.parametrize("argv", [
    [],  # no root: typer's usage error
    ["--help"], ["data", "--help"], ["data", "-h"],
    ["data", "other"],  # two roots
    ["data", "--unknown"], ["data", "--"], ["-", "--json"],
    ["data", "--workers"],  # missing value
    ["data", "--workers", "0"], ["data", "--workers", "-1"], ["data", "--workers", "two"], ["data", "--workers", "1.5"],
    ["data", "--near-dup-distance", "17"], ["data", "--max-examples", "-3"],
    ["data", "--json=yes"], ["data", "--json", "--json"], ["data", "--manifest", "a", "--manifest", "b"],
    ["data", "--manifest", ""], [""], ["data", "--datasets="],
])
def test_anything_else_goes_to_typer(argv):
    assert parse(SPEC, argv) is None


def _cli(args: list[str], via_typer: bool) -> subprocess.CompletedProcess:
    code = (
        "import sys\n"
        "sys.argv = ['dis-audit', *sys.argv[1:]]\n"
        + ("from dis_audit.cli import app\ntry:\n    app()\n" if via_typer else
           "from dis_audit.cli import main\ntry:\n    main()\n")
        + "finally:\n    print('PYDANTIC' if 'pydantic' in sys.modules else 'NO-PYDANTIC', file=sys.stderr)\n"
    )
    env = dict(os.environ, PYTHONPATH=str(REPO), COLUMNS="200")
    return subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, env=env, check=False)


def test_cli_scan_skips_pydantic_with_the_same_result(tmp_path):
    """A plain scan by the console entry point never imports pydantic; output and exit code match typer's."""
    root = REPO / "examples" / "dis-mini"
    runs = {}
    for via_typer in (False, True):
        manifest = tmp_path / f"m-{via_typer}.parquet"
        args = ["scan", str(root), "--json", "--manifest", str(manifest)]
        runs[via_typer] = out = _cli(args, via_typer)
        assert out.stderr.strip().endswith("NO-PYDANTIC" if not via_typer else "PYDANTIC"), out.stderr[-2000:]
    fast, slow = (json.loads(runs[v].stdout) for v in (False, True))
    for doc in (fast, slow):
        doc["summary"].pop("elapsed_s")
        doc["summary"].pop("manifest")
    assert fast == slow
    assert runs[False].returncode == runs[True].returncode == 1  # the example has error findings
    assert (tmp_path / "m-False.parquet").read_bytes() == (tmp_path / "m-True.parquet").read_bytes()


def test_cli_errors_stay_typers(tmp_path):
    """A usage error takes typer's path: the same message and exit code 2 through the entry point."""
    out = _cli(["scan", str(tmp_path), "--workers", "0"], via_typer=False)
    assert out.returncode == 2
    assert "--workers" in out.stderr and "PYDANTIC" in out.stderr
    missing = _cli(["scan", str(tmp_path / "nope"), "--json"], via_typer=False)
    assert missing.returncode == 2 and "dis-audit: error:" in missing.stderr


def test_options_with_typer_behaviour_are_left_to_typer():
    """An option with an environment variable or a callback, or one declared the older way, is typer's to parse."""
    def with_env(root: Annotated[Path, typer.Argument()],
                 level: Annotated[int, typer.Option(envvar="LEVEL")] = 1) -> None:
        pass

    def with_callback(root: Annotated[Path, typer.Argument()],
                      name: Annotated[str, typer.Option(callback=str.upper)] = "a") -> None:
        pass

    def old_style(root: Annotated[Path, typer.Argument()], level: int = typer.Option(1, "--level")) -> None:
        pass

    for fn in (with_env, with_callback, old_style):
        with pytest.raises(TypeError):
            command_spec(fn)
