"""The key-value metadata of a parquet file, read from its footer without pyarrow.

``scan`` reads the previous manifest's vocabulary before it starts (``vocab_choice``), and with
``pq.read_schema`` that meant importing pyarrow (0.25-0.35 s) first thing, where the scan would
rather import it while its folders are listed (``_prelist``). The vocabulary is in the footer's
key-value metadata, which is a short Thrift structure at the end of the file (parquet-format's
``FileMetaData``, field 5: a list of ``KeyValue`` structs of a key and an optional value).

This reader answers only for a plain (unencrypted), well-formed footer; for anything else, and
for any error, it returns None and the caller asks pyarrow, whose answer and messages stand.
``tests/test_footer.py`` compares it with pyarrow on manifests and on damaged files.
"""

from __future__ import annotations

import os
import struct

_MAGIC = b"PAR1"
#: Footer sizes beyond this are not a manifest's (its footer is a few kilobytes a row group).
_MAX_FOOTER = 64 << 20
# Thrift compact protocol type ids.
_TRUE, _FALSE, _BYTE, _I16, _I32, _I64, _DOUBLE, _BINARY, _LIST, _SET, _MAP, _STRUCT = range(1, 13)
#: FileMetaData's field of the key-value list; KeyValue's key and value fields.
_KEY_VALUE_METADATA, _KEY, _VALUE = 5, 1, 2


class _Malformed(Exception):
    """The footer is not what this reader understands (pyarrow decides)."""


def key_value_metadata(path: str | os.PathLike) -> dict[bytes, bytes | None] | None:
    """The footer's key-value metadata of the parquet file at ``path``; None when this reader cannot tell."""
    try:
        with open(path, "rb") as fh:
            size = os.fstat(fh.fileno()).st_size
            if size < 12 or fh.read(4) != _MAGIC:
                return None
            fh.seek(size - 8)
            tail = fh.read(8)
            (length,) = struct.unpack("<I", tail[:4])
            if tail[4:] != _MAGIC or length > min(size - 12, _MAX_FOOTER):
                return None
            fh.seek(size - 8 - length)
            footer = fh.read(length)
    except (OSError, struct.error):
        return None
    if len(footer) != length:
        return None
    try:
        return _Reader(footer).file_metadata()
    except (_Malformed, IndexError, RecursionError):
        return None


class _Reader:
    """Thrift compact protocol, as much as FileMetaData needs: skip every field but the key-value list."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.at = 0

    def byte(self) -> int:
        value = self.data[self.at]
        self.at += 1
        return value

    def varint(self) -> int:
        shift = value = 0
        while True:
            b = self.byte()
            value |= (b & 0x7F) << shift
            if b < 0x80:
                return value
            shift += 7
            if shift > 63:
                raise _Malformed("varint too long")

    def binary(self) -> bytes:
        n = self.varint()
        end = self.at + n
        if end > len(self.data):
            raise _Malformed("binary past the end")
        value = self.data[self.at : end]
        self.at = end
        return value

    def field(self, last: int) -> tuple[int, int]:
        """(field id, type) of the next field of a struct; type 0 ends the struct."""
        header = self.byte()
        kind = header & 0x0F
        if kind == 0:
            return 0, 0
        delta = header >> 4
        if delta:
            return last + delta, kind
        raw = self.varint()
        return (raw >> 1) ^ -(raw & 1), kind  # zigzag i16

    def list_header(self) -> tuple[int, int]:
        header = self.byte()
        size = header >> 4
        if size == 15:
            size = self.varint()
        return size, header & 0x0F

    def skip(self, kind: int, depth: int = 0) -> None:
        if depth > 64:
            raise _Malformed("nested too deep")
        if kind in (_TRUE, _FALSE):
            return  # a bool field's value is its type; list elements go through _BYTE's path below
        if kind == _BYTE:
            self.at += 1
        elif kind in (_I16, _I32, _I64):
            self.varint()
        elif kind == _DOUBLE:
            self.at += 8
        elif kind == _BINARY:
            self.binary()
        elif kind in (_LIST, _SET):
            size, element = self.list_header()
            for _ in range(size):
                if element in (_TRUE, _FALSE):
                    self.at += 1
                else:
                    self.skip(element, depth + 1)
        elif kind == _MAP:
            size = self.varint()
            if size:
                types = self.byte()
                for _ in range(size):
                    self.skip(types >> 4, depth + 1)
                    self.skip(types & 0x0F, depth + 1)
        elif kind == _STRUCT:
            last = 0
            while True:
                last, inner = self.field(last)
                if inner == 0:
                    return
                self.skip(inner, depth + 1)
        else:
            raise _Malformed(f"unknown type {kind}")
        if self.at > len(self.data):
            raise _Malformed("past the end")

    def file_metadata(self) -> dict[bytes, bytes | None]:
        found: dict[bytes, bytes | None] = {}
        seen_list = False
        last = 0
        while True:
            last, kind = self.field(last)
            if kind == 0:
                break
            if last != _KEY_VALUE_METADATA:
                self.skip(kind)
                continue
            if kind != _LIST or seen_list:
                raise _Malformed("unexpected key-value metadata")
            seen_list = True
            size, element = self.list_header()
            if element != _STRUCT:
                raise _Malformed("key-value entries are not structs")
            for _ in range(size):
                key, value = self.key_value()
                if key in found:  # which one a reader keeps is pyarrow's to say
                    raise _Malformed("duplicate key")
                found[key] = value
        if self.at != len(self.data):
            raise _Malformed("trailing bytes")
        return found

    def key_value(self) -> tuple[bytes, bytes | None]:
        key: bytes | None = None
        value: bytes | None = None
        last = 0
        while True:
            last, kind = self.field(last)
            if kind == 0:
                break
            if last in (_KEY, _VALUE) and kind == _BINARY:
                if last == _KEY:
                    key = self.binary()
                else:
                    value = self.binary()
            else:
                self.skip(kind)
        if key is None:
            raise _Malformed("a key-value entry without a key")
        return key, value
