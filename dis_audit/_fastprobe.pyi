from collections.abc import Sequence

HEAD_BYTES: int
TAIL_BYTES: int

def probe(path: str, /) -> tuple[int, int, str, str, int, int] | None: ...
def stat_many(prefix: str, paths: Sequence[str | None], /) -> bytes | None: ...
