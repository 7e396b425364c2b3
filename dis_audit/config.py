"""Project configuration: ``[tool.dis-audit]`` in a ``pyproject.toml``, or a ``dis-audit.toml``.

Found the way ruff and pytest find theirs: from the dataset ROOT upward, the first folder holding
a ``dis-audit.toml`` (top-level keys) or a ``pyproject.toml`` with a ``[tool.dis-audit]`` table
wins; ``--config FILE`` names one instead. Keys are the long command-line option names
(``extend-vocab``; ``extend_vocab`` is read as the same key). Paths in the file (``classes``,
``groups``, ``map:FILE`` in ``class-from``) are relative to the file's folder. A flag given on
the command line overrides the file; ``Settings`` is the merged result, what ``dis-audit
config`` prints and what a scan records in the manifest (``ScanOptions.config``).

This module only reads and checks the file; it imports nothing of dis-audit but ``hints``, so
every layer may use it.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .hints import did_you_mean

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python 3.10 only
    import tomli as tomllib

CONFIG_NAME = "dis-audit.toml"
PYPROJECT_NAME = "pyproject.toml"
TOOL_TABLE = "dis-audit"
FROM_FILE = "file"
FROM_COMMAND_LINE = "command line"
FROM_DEFAULT = "default"


class ConfigError(ValueError):
    """The configuration file cannot be used; the message names the file and the key."""


@dataclass(frozen=True)
class Key:
    """One configuration key: its kind (how the value is checked) and what it means."""

    name: str
    kind: str
    help: str
    default: Any = None


#: Every key, in the order ``dis-audit config`` prints them.
KEYS: tuple[Key, ...] = (
    Key("classes", "vocab", "vocabulary: 'dis5k', 'infer' or a class file (order = id)", "dis5k"),
    Key("extend-vocab", "bool", "append classes found in the data at the end of the vocabulary", False),
    Key("loader", "str", "the training loader the data is meant for (recorded in the manifest)"),
    Key("image-dir", "str", "image folder name (default: auto-detect)"),
    Key("mask-dir", "str", "mask folder name (default: auto-detect)"),
    Key("datasets", "names", "datasets to work on (default: all found)"),
    Key("eval-datasets", "names", "evaluation datasets for the leakage check (default: by name)"),
    Key("difficulty-map", "map", "dataset = difficulty (default: the dataset name)"),
    Key("select", "codes", "rule codes, prefixes or names to report", ()),
    Key("ignore", "codes", "rule codes, prefixes or names to leave out", ()),
    Key("thresholds", "thresholds", "per-rule thresholds, by rule code or name"),
    Key("quality-thresholds", "numbers", "DA6xx thresholds (scan --deep), NAME = number; see docs/deep.md"),
    Key("deep", "bool", "decode every image and mask (scan --deep)", False),
    Key("workers", "int", "worker processes (default: all cores)"),
    Key("class-from", "sources", "class sources for rename and relabel, first match wins"),
    Key("groups", "path", "CSV class,group[,group_idx] for rename's group fields"),
)
KEY_BY_NAME: dict[str, Key] = {k.name: k for k in KEYS}


def find_config(start: str | Path) -> Path | None:
    """The configuration file for ``start`` (a folder or file), searching it and its parents."""
    here = Path(start).absolute()
    for folder in (here, *here.parents):
        candidate = folder / CONFIG_NAME
        if candidate.is_file():
            return candidate
        candidate = folder / PYPROJECT_NAME
        if candidate.is_file() and _has_tool_table(candidate):
            return candidate
    return None


def _has_tool_table(path: Path) -> bool:
    # A pyproject.toml without the table does not count (like ruff), even when it does not parse.
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return False
    if "dis-audit" not in text:
        return False
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError:
        return True  # it mentions the table: let load_config report the syntax error
    return isinstance(data.get("tool"), dict) and TOOL_TABLE in data["tool"]


def _expect(ok: bool, path: Path, key: str, what: str, value: Any) -> None:
    if not ok:
        raise ConfigError(f"{path}: {key} must be {what}, not {value!r}")


def _names(value: Any, path: Path, key: str, separators: str = "+,") -> tuple[str, ...]:
    """A string (``"a+b"``, ``"a,b"``) or a list of strings, as a tuple of names."""
    items = [value] if isinstance(value, str) else value
    _expect(isinstance(items, list) and all(isinstance(v, str) for v in items), path, key,
            "a string or a list of strings", value)
    out: list[str] = []
    for item in items:
        for sep in separators:
            item = item.replace(sep, "\0")
        out.extend(part.strip() for part in item.split("\0") if part.strip())
    return tuple(out)


def _relative(value: str, base: Path) -> str:
    """A path from the file, made absolute against the file's folder."""
    p = Path(value).expanduser()
    return str(p if p.is_absolute() else base / p)


def _check(key: Key, value: Any, path: Path) -> Any:
    """The value of ``key`` as the commands take it; ConfigError when it has the wrong type."""
    base = path.parent
    name = key.name
    if key.kind == "bool":
        _expect(isinstance(value, bool), path, name, "true or false", value)
        return value
    if key.kind == "int":
        _expect(isinstance(value, int) and not isinstance(value, bool) and value >= 1, path, name,
                "a whole number of at least 1", value)
        return value
    if key.kind == "str":
        _expect(isinstance(value, str) and value.strip() != "", path, name, "a non-empty string", value)
        return value.strip()
    if key.kind == "path":
        _expect(isinstance(value, str) and value.strip() != "", path, name, "a path", value)
        return _relative(value, base)
    if key.kind == "vocab":
        _expect(isinstance(value, str) and value.strip() != "", path, name, "'dis5k', 'infer' or a class file", value)
        return value if value in ("dis5k", "infer") else _relative(value, base)
    if key.kind == "names":
        return _names(value, path, name)
    if key.kind == "codes":
        return _names(value, path, name, separators=",")
    if key.kind == "map":
        if isinstance(value, str):  # the command-line form "a=b,c=d" (or a file of such lines)
            return value if "=" in value else _relative(value, base)
        _expect(isinstance(value, dict) and all(isinstance(v, (str, int)) for v in value.values()), path, name,
                "a table of dataset = difficulty", value)
        return {str(k): str(v) for k, v in value.items()}
    if key.kind == "thresholds":
        _expect(isinstance(value, dict), path, name, "a table of rule = number", value)
        for rule, number in value.items():
            _expect(isinstance(number, int) and not isinstance(number, bool), path, f"{name}.{rule}",
                    "a whole number", number)
        return dict(value)
    if key.kind == "numbers":
        # The names are checked where they are used (dis_audit.quality): this module imports nothing of them.
        _expect(isinstance(value, dict), path, name, "a table of NAME = number", value)
        for item, number in value.items():
            _expect(isinstance(number, (int, float)) and not isinstance(number, bool), path, f"{name}.{item}",
                    "a number", number)
        return {str(k): float(v) for k, v in value.items()}
    if key.kind == "sources":
        specs = [value] if isinstance(value, str) else value
        _expect(isinstance(specs, list) and all(isinstance(v, str) for v in specs), path, name,
                "a list of sources such as 'map:classes.csv'", value)
        return tuple(f"map:{_relative(s[4:], base)}" if s.startswith("map:") and s[4:] else s for s in specs)
    raise AssertionError(key.kind)  # pragma: no cover - every kind is handled above


@dataclass(frozen=True)
class ProjectConfig:
    """The checked values of one configuration file (``path`` None: no file, all defaults)."""

    path: Path | None = None
    values: Mapping[str, Any] = field(default_factory=dict)


def load_config(path: str | Path) -> ProjectConfig:
    """Read and check one file: ``[tool.dis-audit]`` of a pyproject.toml, else the file's top level."""
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ConfigError(f"configuration file not found: {path}") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read configuration file {path}: {exc}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from exc
    tool = data.get("tool")
    if isinstance(tool, dict) and TOOL_TABLE in tool:
        table = tool[TOOL_TABLE]
    elif path.name == PYPROJECT_NAME:
        raise ConfigError(f"{path} has no [tool.{TOOL_TABLE}] table")
    else:
        table = data
    if not isinstance(table, dict):
        raise ConfigError(f"{path}: [tool.{TOOL_TABLE}] must be a table")
    values: dict[str, Any] = {}
    for raw, value in table.items():
        name = raw.replace("_", "-")
        key = KEY_BY_NAME.get(name)
        if key is None:
            raise ConfigError(f"{path}: unknown key {raw!r}{did_you_mean(name, list(KEY_BY_NAME))}; "
                              f"keys: {', '.join(KEY_BY_NAME)}")
        values[name] = _check(key, value, path)
    return ProjectConfig(path.absolute(), values)


@dataclass(frozen=True)
class Settings:
    """The effective configuration: each key's value and where it came from (file, command line, default)."""

    file: Path | None
    values: Mapping[str, Any]
    origins: Mapping[str, str]

    def __getitem__(self, name: str) -> Any:
        return self.values[name]

    def given(self, name: str) -> bool:
        """Whether ``name`` was set by the command line or the file (not a default)."""
        return self.origins[name] != FROM_DEFAULT

    def record(self) -> dict[str, Any]:
        """The JSON object a manifest stores: the file and every key that is not a default."""
        return {
            "file": None if self.file is None else str(self.file),
            "settings": {k: _jsonable(v) for k, v in self.values.items() if self.given(k)},
        }

    def to_json(self) -> dict[str, Any]:
        """``record()`` plus every key's value and origin: what ``dis-audit config --json`` prints."""
        return {**self.record(), "values": {k: _jsonable(v) for k, v in self.values.items()},
                "origins": dict(self.origins)}

    def render(self) -> str:
        """TOML-like lines, one per key, each with its origin: what ``dis-audit config`` prints."""
        lines = [f"# configuration file: {self.file or 'none found'}"]
        for key in KEYS:
            value = self.values[key.name]
            if value is None:
                lines.append(f"# {key.name} (not set): {key.help}")
            else:
                lines.append(f"{key.name} = {_toml(value)}  # {self.origins[key.name]}")
        return "\n".join(lines)


def _jsonable(value: Any) -> Any:
    if isinstance(value, tuple):
        return list(value)
    if isinstance(value, Path):
        return str(value)
    return value


def _toml(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    if isinstance(value, Mapping):
        return "{ " + ", ".join(f"{_toml_key(k)} = {_toml(v)}" for k, v in value.items()) + " }"
    return '"' + str(value).replace("\\", "\\\\").replace('"', '\\"') + '"'


def _toml_key(key: str) -> str:
    return key if key.replace("-", "").replace("_", "").isalnum() else _toml(key)


def resolve_settings(
    root: str | Path | None, config: str | Path | None = None, *, isolated: bool = False, **command_line: Any,
) -> Settings:
    """Merge the configuration file (``config``, else the one found from ``root`` upward) with flags.

    ``command_line`` maps option names (``extend_vocab`` or ``extend-vocab``) to the flag's
    value, None when the flag was not given; a given flag wins over the file (for a table of named
    numbers, ``quality-thresholds``, name by name). ``isolated``
    ignores every file (``--isolated``).
    """
    if isolated:
        project = ProjectConfig()
    elif config is not None:
        project = load_config(config)
    else:
        found = find_config(root) if root is not None else None
        project = load_config(found) if found is not None else ProjectConfig()
    values: dict[str, Any] = {}
    origins: dict[str, str] = {}
    given = {name.replace("_", "-"): value for name, value in command_line.items()}
    unknown = set(given) - set(KEY_BY_NAME)
    if unknown:  # a programming error in the caller, not user input
        raise KeyError(f"not configuration keys: {sorted(unknown)}")
    for key in KEYS:
        flag = given.get(key.name)
        if key.kind == "numbers" and flag and key.name in project.values:
            # A table of named numbers merges: a name given on the command line wins over the same name in the file.
            values[key.name] = {**project.values[key.name], **flag}
            origins[key.name] = f"{FROM_FILE} + {FROM_COMMAND_LINE}"
        elif flag is not None and flag != () and flag != [] and flag != {}:
            values[key.name], origins[key.name] = flag, FROM_COMMAND_LINE
        elif key.name in project.values:
            values[key.name], origins[key.name] = project.values[key.name], FROM_FILE
        else:
            values[key.name], origins[key.name] = key.default, FROM_DEFAULT
    return Settings(project.path, values, origins)


__all__ = [
    "CONFIG_NAME", "KEYS", "ConfigError", "Key", "ProjectConfig", "Settings", "find_config",
    "load_config", "resolve_settings",
]
