"""Arrow arrays from Python lists without pyarrow's pandas shim.

``pa.array(list)`` asks pyarrow's pandas shim whether the list is "array-like", and the shim
imports pandas to answer (0.3-0.4 s, in every process that builds a table). The scan builds
its tables from plain lists of str, int, float and lists of str, so it assembles those arrays
from their buffers instead (numpy for the fixed-width values); the arrays are equal to what
``pa.array`` makes. Any other type, or a value that does not fit its column, goes to
``pa.array``, which keeps its own checks and error messages.
"""

from __future__ import annotations

import builtins
from collections.abc import Sequence
from functools import cache
from itertools import chain
from typing import TYPE_CHECKING, Any

from ._lazy import lazy_module

if TYPE_CHECKING:
    import numpy as np
    import pyarrow as pa
else:  # imported on first use: see dis_audit._lazy
    np = lazy_module("numpy")
    pa = lazy_module("pyarrow")


@cache
def _numpy_types() -> dict[pa.DataType, Any]:
    """Arrow fixed-width type -> numpy scalar type (built on first use: pyarrow and numpy load lazily)."""
    return {
        pa.int8(): np.int8, pa.int16(): np.int16, pa.int32(): np.int32, pa.int64(): np.int64,
        pa.uint8(): np.uint8, pa.uint16(): np.uint16, pa.uint32(): np.uint32, pa.uint64(): np.uint64,
        pa.float32(): np.float32, pa.float64(): np.float64,
    }


def to_arrow(values: Sequence[Any] | np.ndarray, type: pa.DataType) -> pa.Array:
    """The Arrow array of ``values`` (a list, None is null; or a 1-d numpy array) as ``type``.

    Equal to ``pa.array(values, type=type)`` (bools count as integers in an integer column).
    """
    if isinstance(values, np.ndarray):
        built = _numpy(values, type)
        return pa.array(values, type=type) if built is None else built
    values = list(values)
    # The common case first, a column without nulls, recognised without counting them (counting
    # compares every value with None): a None makes the join fail, or numpy's array an object one.
    if pa.types.is_string(type):
        built = _strings(values, 0)
        if built is not None:
            return built
    elif type in _numpy_types():
        built = _fixed(values, 0, type)
        if built is not None:
            return built
    n = len(values)
    nulls = values.count(None)
    if nulls == n:
        return pa.nulls(n, type)
    built = None
    if pa.types.is_string(type):
        built = _strings(values, nulls)
    elif type in _numpy_types():
        built = _fixed(values, nulls, type)
    elif pa.types.is_boolean(type):
        built = _bools(values, nulls)
    elif pa.types.is_list(type) and pa.types.is_string(type.value_type):
        built = _string_lists(values, nulls, type)
    if built is None:  # another type, or a value that does not fit: pyarrow checks and says why
        return pa.array(values, type=type)
    return built


def _validity(values: Sequence[Any] | np.ndarray) -> pa.Buffer:
    """The validity bitmap of ``values`` (a bit a value, least significant first; 0 for None)."""
    valid = np.fromiter((v is not None for v in values), dtype=bool, count=len(values))
    return pa.py_buffer(np.packbits(valid, bitorder="little"))


def _strings(values: list[Any], nulls: int) -> pa.Array | None:
    bitmap = None
    if nulls:
        bitmap = _validity(values)
        values = ["" if v is None else v for v in values]
    n = len(values)
    try:
        # One string with a NUL between the values: where the NULs fall in its UTF-8 bytes gives
        # every value's byte length at once (no Python call per value).
        joined = "\0".join(values)
        data = joined.encode("utf-8")
    except TypeError:  # not all str
        return None
    except UnicodeEncodeError:  # lone surrogates: pyarrow says so
        return None
    if len(data) - (n - 1) >= 2**31:  # past 32-bit offsets: pyarrow chunks or refuses
        return None
    raw = np.frombuffer(data, dtype=np.uint8)
    ends = np.flatnonzero(raw == 0)
    offsets = np.empty(n + 1, dtype=np.int32)
    offsets[0] = 0
    if len(ends) == n - 1:  # no value holds a NUL itself: every NUL is a separator
        # The k-th separator sits after k values and k-1 earlier separators.
        offsets[1:n] = ends - np.arange(n - 1)
        offsets[n] = len(data) - (n - 1)
        body = data.replace(b"\0", b"")
    else:  # a value with a NUL inside: lengths one by one
        encoded = [v.encode("utf-8") for v in values]
        np.cumsum(np.fromiter(map(len, encoded), dtype=np.int64, count=n), out=offsets[1:])
        body = b"".join(encoded)
    return pa.Array.from_buffers(
        pa.string(), n, [bitmap, pa.py_buffer(offsets), pa.py_buffer(body)], null_count=nulls
    )


def _fixed(values: list[Any] | np.ndarray, nulls: int, type: pa.DataType) -> pa.Array | None:
    bitmap = None
    if nulls:
        bitmap = _validity(values)
        values = [0 if v is None else v for v in values]
    kinds = "iu" if pa.types.is_integer(type) else "iuf"
    try:
        raw = np.array(values)
    except (ValueError, TypeError):  # ragged or odd values: let pyarrow say what is wrong
        return None
    if raw.ndim != 1 or raw.dtype.kind not in kinds:
        return None  # bools, strings or floats in an integer column: pyarrow refuses or checks them
    dtype = _numpy_types()[type]
    if raw.size:
        info = np.iinfo(dtype) if pa.types.is_integer(type) else np.finfo(dtype)
        if raw.min() < info.min or raw.max() > info.max:
            return None  # out of range (or NaN compares false: kept): pyarrow raises or rounds as it does
    data = raw.astype(dtype, copy=False)
    return pa.Array.from_buffers(type, len(values), [bitmap, pa.py_buffer(data)], null_count=nulls)


def _numpy(values: np.ndarray, type: pa.DataType) -> pa.Array | None:
    if values.ndim != 1:
        return None
    if pa.types.is_boolean(type) and values.dtype == np.bool_:
        return pa.Array.from_buffers(type, len(values), [None, pa.py_buffer(np.packbits(values, bitorder="little"))])
    if type in _numpy_types() and values.dtype.kind in "iuf":
        return _fixed(values, 0, type)
    return None


def _bools(values: list[Any], nulls: int) -> pa.Array | None:
    bitmap = None
    if nulls:
        bitmap = _validity(values)
        values = [False if v is None else v for v in values]
    raw = np.array(values)
    if raw.ndim != 1 or raw.dtype != np.bool_:
        return None  # pyarrow decides what a non-bool means
    data = pa.py_buffer(np.packbits(raw, bitorder="little"))
    return pa.Array.from_buffers(pa.bool_(), len(values), [bitmap, data], null_count=nulls)


@cache
def _empty_strings() -> pa.Array:
    return pa.Array.from_buffers(pa.string(), 0, [None, pa.py_buffer(np.zeros(1, dtype=np.int32)), pa.py_buffer(b"")])


def _string_lists(values: list[Any], nulls: int, type: pa.DataType) -> pa.Array | None:
    bitmap = None
    if nulls:
        bitmap = _validity(values)
        values = [() if v is None else v for v in values]
    # set(map(type, ...)) is one C-level pass; other kinds (subclasses too) get the isinstance test.
    if not set(map(builtins.type, values)) <= {list, tuple} and not all(isinstance(v, (list, tuple)) for v in values):
        return None
    if not any(values):  # every list empty (a scan's issues, mostly): no lengths to add up
        return pa.Array.from_buffers(
            type, len(values), [bitmap, pa.py_buffer(np.zeros(len(values) + 1, dtype=np.int32))], null_count=nulls,
            children=[_empty_strings()],
        )
    flat = list(chain.from_iterable(values))
    child = _strings(flat, flat.count(None))
    if child is None or len(flat) >= 2**31:
        return None
    offsets = np.zeros(len(values) + 1, dtype=np.int32)
    np.cumsum(np.fromiter(map(len, values), dtype=np.int64, count=len(values)), out=offsets[1:])
    return pa.Array.from_buffers(
        type, len(values), [bitmap, pa.py_buffer(offsets)], null_count=nulls, children=[child]
    )


def ints_of(column: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """A numpy view (or copy, for several chunks) of an integer column without nulls.

    ``Array.to_numpy`` would go through the pandas shim too; the values buffer is read directly.
    """
    arr = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
    if not pa.types.is_integer(arr.type) or arr.null_count:
        raise ValueError(f"ints_of needs an integer column without nulls, not {arr.type} with {arr.null_count} null(s)")
    dtype = np.dtype(_numpy_types()[arr.type])
    if len(arr) == 0:
        return np.zeros(0, dtype=dtype)
    return np.frombuffer(arr.buffers()[1], dtype=dtype, count=len(arr), offset=arr.offset * dtype.itemsize)


def ints_filled(column: pa.Array | pa.ChunkedArray, null: int) -> np.ndarray:
    """An int64 numpy array of an integer column, ``null`` where it is null (exact: no float on the way)."""
    arr = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
    if not pa.types.is_integer(arr.type):
        raise ValueError(f"ints_filled needs an integer column, not {arr.type}")
    if arr.null_count == len(arr):
        return np.full(len(arr), null, dtype=np.int64)
    dtype = np.dtype(_numpy_types()[arr.type])
    values = np.frombuffer(arr.buffers()[1], dtype=dtype, count=len(arr), offset=arr.offset * dtype.itemsize)
    out = values.astype(np.int64)  # a copy, also where it is int64 already
    if arr.null_count:
        bits = np.unpackbits(np.frombuffer(arr.buffers()[0], dtype=np.uint8), bitorder="little")
        out[bits[arr.offset : arr.offset + len(arr)] == 0] = null
    return out


def to_list(column: pa.Array | pa.ChunkedArray) -> list[Any]:
    """The Python values of a column (None for null), as ``to_pylist()`` gives them; integers in bulk."""
    arr = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
    if not pa.types.is_integer(arr.type) or len(arr) == 0:
        return arr.to_pylist()
    if arr.null_count == len(arr):
        return [None] * len(arr)
    dtype = np.dtype(_numpy_types()[arr.type])
    values = np.frombuffer(arr.buffers()[1], dtype=dtype, count=len(arr), offset=arr.offset * dtype.itemsize).tolist()
    if not arr.null_count:
        return values
    bits = np.unpackbits(np.frombuffer(arr.buffers()[0], dtype=np.uint8), bitorder="little")
    valid = bits[arr.offset : arr.offset + len(arr)].tolist()
    return [v if ok else None for v, ok in zip(values, valid)]
