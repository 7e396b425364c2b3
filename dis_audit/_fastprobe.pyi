from collections.abc import Sequence
from typing import TypeVar

_Info = TypeVar("_Info", bound=tuple)

HEAD_BYTES: int
TAIL_BYTES: int

def probe(path: str, /) -> tuple[int, int, str, str, int, int] | None: ...
def probe_many(prefix: str, paths: Sequence[str | None], info_type: type[_Info], /) -> list[_Info | None]: ...
def stat_many(prefix: str, paths: Sequence[str | None], /) -> bytes | None: ...
