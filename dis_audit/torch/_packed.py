"""Packed string columns: one bytes buffer plus an offsets array.

A ``list[str]`` of a million paths is a million Python objects; every read in a forked
DataLoader worker bumps their reference counts, which dirties the pages that hold them and
slowly copies the whole list into every worker (pytorch issue #13246). Two numpy arrays have
no per-item objects, so reads leave the pages shared.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc


class PackedStrings:
    """An immutable sequence of optional strings stored as UTF-8 bytes + int64 offsets.

    ``None`` entries are kept as a separate boolean mask so that an empty string and a
    missing value stay distinct.
    """

    __slots__ = ("_data", "_offsets", "_valid")

    def __init__(self, data: np.ndarray, offsets: np.ndarray, valid: np.ndarray) -> None:
        self._data = data
        self._offsets = offsets
        self._valid = valid

    @classmethod
    def from_arrow(cls, column: pa.ChunkedArray | pa.Array) -> PackedStrings:
        """Pack an Arrow string column without going through Python objects."""
        if isinstance(column, pa.ChunkedArray):
            column = column.combine_chunks() if column.num_chunks != 1 else column.chunk(0)
        column = column.cast(pa.large_string())
        valid = np.asarray(pc.is_valid(column).to_numpy(zero_copy_only=False), dtype=bool)
        # Fill nulls so the buffers are plain; the mask remembers which were None.
        filled = pc.fill_null(column, "") if column.null_count else column
        if isinstance(filled, pa.ChunkedArray):
            filled = filled.combine_chunks()
        _, offsets_buf, data_buf = filled.buffers()
        n = len(filled)
        offsets = np.frombuffer(offsets_buf, dtype=np.int64, count=n + 1, offset=filled.offset * 8).copy()
        start, stop = int(offsets[0]), int(offsets[-1])
        data = (
            np.frombuffer(data_buf, dtype=np.uint8)[start:stop].copy()
            if data_buf is not None and stop > start
            else np.zeros(0, dtype=np.uint8)
        )
        offsets -= start
        return cls(data, offsets, valid)

    @classmethod
    def from_strings(cls, values: Iterable[str | None]) -> PackedStrings:
        """Pack Python strings (convenience for small inputs and tests)."""
        return cls.from_arrow(pa.array(list(values), type=pa.large_string()))

    def __len__(self) -> int:
        return len(self._offsets) - 1

    def __getitem__(self, index: int) -> str | None:
        i = int(index)
        if i < 0:
            i += len(self)
        if not 0 <= i < len(self):
            raise IndexError(index)
        if not self._valid[i]:
            return None
        return self._data[self._offsets[i] : self._offsets[i + 1]].tobytes().decode("utf-8")

    def take(self, indices: np.ndarray) -> PackedStrings:
        """A new column holding the rows ``indices`` (used to apply row filters)."""
        indices = np.asarray(indices, dtype=np.int64)
        starts = self._offsets[indices]
        lengths = self._offsets[indices + 1] - starts
        new_offsets = np.zeros(len(indices) + 1, dtype=np.int64)
        np.cumsum(lengths, out=new_offsets[1:])
        if len(indices) and new_offsets[-1]:
            # Gather every byte range at once: position j of the output reads byte
            # starts[row(j)] + (j - new_offsets[row(j)]).
            row = np.repeat(np.arange(len(indices)), lengths)
            src = starts[row] + (np.arange(new_offsets[-1]) - new_offsets[row])
            data = self._data[src]
        else:
            data = np.zeros(0, dtype=np.uint8)
        return PackedStrings(data, new_offsets, self._valid[indices].copy())

    @property
    def nbytes(self) -> int:
        """Memory held by the buffers, in bytes."""
        return self._data.nbytes + self._offsets.nbytes + self._valid.nbytes

    def __repr__(self) -> str:
        return f"PackedStrings(n={len(self)}, nbytes={self.nbytes})"
