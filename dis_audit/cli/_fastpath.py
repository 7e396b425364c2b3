"""Plain ``dis-audit scan`` command lines, parsed without typer's value coercion.

typer (0.2x and later) coerces every option value through a pydantic ``TypeAdapter``: importing
pydantic and building one adapter per option costs ~0.25 s of CPU on every run, before the
scan starts, a tenth of a 100,000-file scan on 2 cores. A command line made only of the scan
command's own long options with well-formed values is parsed here, from the same
``typer.Option`` declarations, and the command function is called with the values typer
would pass. Anything else (help, a short, unknown or repeated option, a missing, empty,
negative or out-of-range value, shell completion) returns None untouched and goes through
typer as before, so help, errors and their exit codes are typer's own.
``tests/test_cli_fastpath.py`` checks the option table and the values against typer's.
"""

from __future__ import annotations

import inspect
import os
import sys
import typing
from collections.abc import Callable, Sequence
from pathlib import Path
from types import NoneType, UnionType
from typing import Any, NamedTuple, Union, get_args, get_origin

import typer
from typer.models import ArgumentInfo, OptionInfo


class OptionSpec(NamedTuple):
    """One option of a command as its command line spells it."""

    name: str  # the parameter's name in the function
    on: str  # the option ("--deep"); for a flag, the switch that gives True
    off: str | None  # a flag's switch that gives False ("--no-deep"), if any
    kind: type  # str, int, Path or bool (a flag)
    multiple: bool  # list[...]: repeatable, the values in order
    low: float | None
    high: float | None


class CommandSpec(NamedTuple):
    """A command's single positional argument and its options, from its signature."""

    argument: str
    argument_kind: type
    options: dict[str, OptionSpec]  # by every switch that names one
    defaults: dict[str, Any]


#: OptionInfo settings that make typer do more than convert the value.
_TYPER_ONLY = ("envvar", "callback", "prompt", "is_eager", "parser", "click_type", "count", "flag_value", "autocompletion")


def _base(annotation: Any) -> tuple[type, bool]:
    """(str | int | Path | bool, multiple) of an annotation such as ``list[str] | None``; TypeError for others."""
    if get_origin(annotation) in (Union, UnionType):
        inner = [a for a in get_args(annotation) if a is not NoneType]
        if len(inner) != 1:
            raise TypeError(annotation)
        annotation = inner[0]
    multiple = get_origin(annotation) is list
    if multiple:
        (annotation,) = get_args(annotation)
    if annotation not in (str, int, Path, bool):
        raise TypeError(annotation)
    return annotation, multiple


def command_spec(fn: Callable[..., Any]) -> CommandSpec:
    """The command line of a typer command function: its argument and options, as typer names them.

    typer's rules: an option without declarations is ``--`` plus the parameter name with dashes;
    a bool option without declarations is the pair ``--name/--no-name``; ``"--a/--b"`` declares
    both switches of a flag.
    """
    hints = typing.get_type_hints(fn, include_extras=True)
    argument_kind: type
    argument, argument_kind = "", str
    options: dict[str, OptionSpec] = {}
    defaults: dict[str, Any] = {}
    for name, param in inspect.signature(fn).parameters.items():
        annotation = hints[name]
        info = next((m for m in getattr(annotation, "__metadata__", ()) if isinstance(m, (OptionInfo, ArgumentInfo))), None)
        if info is None:  # the older `= typer.Option(...)` style, or a plain parameter
            raise TypeError(f"{name}: not declared with Annotated[..., typer.Option/Argument]")
        kind, multiple = _base(get_args(annotation)[0])
        if isinstance(info, ArgumentInfo):
            if argument or multiple or param.default is not inspect.Parameter.empty:
                raise TypeError(f"{name}: only one required positional argument is handled")
            argument, argument_kind = name, kind
            continue
        # Behaviour beyond names, types, defaults and bounds (an environment variable, a callback,
        # a prompt, a custom parser ...) is typer's to apply: such a command is not parsed here.
        if any(getattr(info, attr, None) for attr in _TYPER_ONLY):
            raise TypeError(f"{name}: an option with {[a for a in _TYPER_ONLY if getattr(info, a, None)]}")
        defaults[name] = param.default
        # In ``Annotated``, typer reads Option's first positional argument (its ``default``) as a declaration.
        given = ([info.default] if info.default is not ... else []) + list(info.param_decls or ())
        decls = [switch for decl in given for switch in str(decl).split("/")]
        if not decls:
            dashed = "--" + name.replace("_", "-")
            decls = [dashed, "--no-" + dashed[2:]] if kind is bool else [dashed]
        if len(decls) > 2 or any(not d.startswith("--") for d in decls) or (len(decls) == 2 and kind is not bool):
            raise TypeError(f"{name}: declarations {decls} are not handled")
        spec = OptionSpec(name, decls[0], decls[1] if len(decls) == 2 else None, kind, multiple, info.min, info.max)
        for switch in decls:
            options[switch] = spec
    return CommandSpec(argument, argument_kind, options, defaults)


def _value(spec: OptionSpec, text: str) -> Any:
    """The value typer gives for ``text``, or None when typer should judge it (its own message)."""
    if not text or text.startswith("-"):
        return None
    if spec.kind is int:
        if not (text.isascii() and text.isdigit()):
            return None
        number = int(text)
        if (spec.low is not None and number < spec.low) or (spec.high is not None and number > spec.high):
            return None
        return number
    return Path(text) if spec.kind is Path else text


def parse(spec: CommandSpec, args: Sequence[str]) -> dict[str, Any] | None:
    """The keyword arguments for a command line that is plain enough, else None (typer parses it)."""
    values: dict[str, Any] = {}
    argument: Any = None
    i = 0
    while i < len(args):
        token = args[i]
        i += 1
        if not token.startswith("-"):
            if argument is not None:
                return None
            argument = _value(OptionSpec("", "", None, spec.argument_kind, False, None, None), token)
            if argument is None:
                return None
            continue
        switch, eq, inline = token.partition("=")
        option = spec.options.get(switch)
        if option is None or (option.name in values and not option.multiple):
            return None
        if option.kind is bool:
            if eq:
                return None
            values[option.name] = switch == option.on
            continue
        if not eq:
            if i >= len(args):
                return None
            inline = args[i]
            i += 1
        value = _value(option, inline)
        if value is None:
            return None
        if option.multiple:
            values.setdefault(option.name, []).append(value)
        else:
            values[option.name] = value
    if argument is None:
        return None
    return {spec.argument: argument, **spec.defaults, **values}


def run_plain_scan(argv: Sequence[str]) -> bool:
    """Run ``dis-audit scan`` from ``argv`` (without the program name) when it is plain; False if not.

    Exits as typer's standalone mode does: with the command's exit code, 1 on a closed stdout.
    Ctrl-C propagates to ``main``, which says so and exits 130, as for every other command.
    """
    if not argv or argv[0] != "scan" or any(key.endswith("_COMPLETE") for key in os.environ):
        return False
    from .scan import scan

    try:
        kwargs = parse(command_spec(scan), argv[1:])
    except TypeError:  # a declaration this parser does not know: typer's way
        return False
    if kwargs is None:
        return False
    try:
        scan(**kwargs)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except BrokenPipeError:
        sys.stdout = _Quiet(sys.stdout)
        sys.stderr = _Quiet(sys.stderr)
        sys.exit(1)
    sys.exit(0)


class _Quiet:
    """A stream whose flush ignores a closed pipe (as click's, so the exit does not print a traceback)."""

    def __init__(self, stream: Any) -> None:
        self._stream = stream

    def flush(self) -> None:
        try:
            self._stream.flush()
        except OSError:
            pass

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)
