HEAD_BYTES: int
TAIL_BYTES: int

def probe(path: str, /) -> tuple[int, int, str, str, int, int] | None: ...
