"""Property tests of `scan`: generated file and folder names never break the promises.

Names come as raw bytes (undecodable UTF-8 included), in NFC and NFD, with control characters,
with 0 to 7 `#` fields, and up to the 255-byte limit of a name; files are valid JPEG/PNG, empty,
garbage or FIFOs. Invariants: no traceback; exit code 0 or 1 (a finding) as documented; every
file is a manifest row or a finding (or counted clutter: a name without an image extension);
nothing outside ROOT changes.
"""

from __future__ import annotations

import json
import os
import tempfile
import unicodedata
from pathlib import Path

from hardening import JPEG, PNG, outside_world, run_cli, snapshot
from hypothesis import given
from hypothesis import strategies as st

from dis_audit.naming import IMAGE_EXTENSIONS
from dis_audit.paths import display_path

_SAFE = st.characters(codec="utf-8", exclude_characters="/\x00")
_FIELD = st.text(_SAFE, max_size=10)
_HASH_NAME = st.lists(_FIELD, min_size=1, max_size=8).map("#".join).map(os.fsencode)
_ACCENTED = st.sampled_from(["Caf\u00e9", "\u00c5ngstr\u00f6m", "Bag", "Na\u00efve"]).flatmap(
    lambda w: st.sampled_from(["NFC", "NFD"]).map(lambda form: unicodedata.normalize(form, w))
).map(lambda c: os.fsencode(f"1#Accessories#1#{c}#x_o"))
_RAW = st.binary(min_size=1, max_size=30).filter(lambda b: b"/" not in b and b"\x00" not in b)
_CONTROL = st.text(st.characters(min_codepoint=0, max_codepoint=0x9F, exclude_characters="/\x00"), min_size=1,
                   max_size=6).map(lambda t: os.fsencode("1#A#1#Bag#" + t))
_LONG = st.integers(min_value=200, max_value=251).map(lambda n: b"a" * n)
STEM = st.one_of(_HASH_NAME, _ACCENTED, _RAW, _CONTROL, _LONG)
EXT = st.sampled_from([b".jpg", b".png", b".jpeg", b".JPG", b".bmp", b".txt", b""])
CONTENT = st.sampled_from(["jpg", "png", "empty", "garbage", "fifo"])
FOLDER = st.one_of(st.just(b"DIS-TR"), _RAW.filter(lambda b: not b.startswith(b".")),
                   st.text(_SAFE, min_size=1, max_size=12).filter(lambda t: not t.startswith(".")).map(os.fsencode))
FILES = st.lists(st.tuples(st.sampled_from([b"im", b"gt", b"im/sub"]), STEM, EXT, CONTENT), min_size=1, max_size=6)


def _write(path: bytes, content: str) -> bool:
    """Create one generated file; False when the name is refused by the filesystem (too long, '.', '..')."""
    try:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        if content == "fifo":
            os.mkfifo(path)
            return True
        data = {"jpg": JPEG, "png": PNG, "empty": b"", "garbage": b"\x89PNG\r\n\x1a\nrubbish"}[content]
        with open(path, "xb") as fh:
            fh.write(data)
    except (FileExistsError, IsADirectoryError, NotADirectoryError):
        return False
    except OSError as exc:
        if exc.errno in (36, 22):  # ENAMETOOLONG, EINVAL
            return False
        raise
    return True


def _accounted(root: Path, data: dict) -> list[bytes]:
    """Files below ROOT that are neither a row, nor named by a finding, nor clutter."""
    named = {f["path"] for f in data["findings"]} | {p for f in data["findings"] for p in f.get("related", [])}
    import pyarrow.parquet as pq  # the rows are not in --json: read the manifest

    manifest = root / "manifest.parquet"
    table = pq.read_table(manifest) if manifest.exists() else None
    if table is not None:
        named |= set(table.column("image_path").to_pylist()) | {p for p in table.column("mask_path").to_pylist() if p}
    # A folder named in a finding (unreadable, undecodable, too long) accounts for everything below it.
    folders = {n.rstrip("/") + "/" for n in named}
    missing = []
    base = os.fsencode(root)
    for current, dirs, files in os.walk(base):
        dirs[:] = [d for d in dirs if not d.startswith(b".")]
        for name in files:
            rel = os.path.relpath(os.path.join(current, name), base)
            if rel == b"manifest.parquet":
                continue
            shown = display_path(os.fsdecode(rel))
            dot = name.rfind(b".")
            clutter = dot <= 0 or name[dot:].decode("latin-1").lower() not in IMAGE_EXTENSIONS
            if shown in named or clutter or any(shown.startswith(f) for f in folders):
                continue
            missing.append(rel)
    return missing


@given(folder=FOLDER, files=FILES)
def test_generated_names_keep_every_promise(folder, files):
    with tempfile.TemporaryDirectory() as tmp:
        parent = outside_world(Path(tmp))
        root = parent / "ROOT"
        for sub, stem, ext, content in files:
            _write(os.path.join(os.fsencode(root), folder, sub, stem + ext), content)
        if not root.exists():
            return
        before = snapshot(parent, skip=b"ROOT")
        out = run_cli("scan", root, "--json", "--workers", "1")
        assert snapshot(parent, skip=b"ROOT") == before, "scan changed something outside ROOT"
        if out.code == 2:  # no dataset found (e.g. only a sub-folder got files): a one-line error
            assert out.stderr.count("\n") <= 1 and "error" in out.stderr, out.stderr
            return
        data = json.loads(out.stdout)
        assert out.code == (1 if data["summary"]["findings"]["error"] else 0)
        assert _accounted(root, data) == []
        for line in out.stdout.splitlines():
            assert "\x1b" not in line


@given(stems=st.lists(st.one_of(_CONTROL, _ACCENTED), min_size=1, max_size=4))
def test_terminal_report_escapes_control_characters(stems):
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        for stem in stems:
            _write(os.path.join(os.fsencode(root), b"DIS-TR", b"im", stem + b".jpg"), "jpg")
        out = run_cli("scan", root, "--no-manifest", "--workers", "1")
        text = out.stdout + out.stderr
        assert not any(ch in text for ch in "\x1b\x07\x08\x0b\x0c\r\x7f"), repr(text)
