"""The hostile-input kinds of issue 12 (and those its property tests found), each tried through the real CLI.

``python tests/hardening_kinds.py`` prints the table of docs/reliability.md (kind, outcome, check);
tests/test_hardening.py runs every kind as a test. Every kind runs ``dis-audit`` in a subprocess
(a hang is a timeout, not a stuck test run) under a parent folder holding decoys, and the harness
checks, besides each kind's own expectation: no traceback, an exit code of 0, 1 or 2, and
nothing outside ROOT changed (snapshot of the parent folder).
"""

from __future__ import annotations

import json
import os
import struct
import subprocess
import sys
import tempfile
import unicodedata
import zlib
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from hardening import PNG, outside_world, snapshot, tree_state

REPO = Path(__file__).resolve().parents[1]
GOOD = "1#Accessories#1#Bag#a_o"


#: Tests run the CLI in this process (seconds instead of minutes on 2 cores); the script, in subprocesses.
IN_PROCESS = False


class Run:
    """One CLI run: exit code and output."""

    def __init__(self, *args: object, timeout: float = 60, env: dict | None = None) -> None:
        if IN_PROCESS:
            from hardening import run_cli

            result = run_cli(*(os.fsdecode(a) for a in args))  # type: ignore[arg-type]
            self.code, self.out, self.err = result.code, result.stdout, result.stderr
            return
        full_env = dict(os.environ, PYTHONPATH=str(REPO), **(env or {}))
        proc = subprocess.run([sys.executable, "-m", "dis_audit", *map(os.fsdecode, args)], capture_output=True,
                              text=True, errors="replace", timeout=timeout, env=full_env)
        self.code, self.out, self.err = proc.returncode, proc.stdout, proc.stderr
        assert "Traceback" not in self.out + self.err, self.err
        assert self.code in (0, 1, 2), (self.code, self.err)

    def codes(self) -> set[str]:
        return {f["code"] for f in json.loads(self.out)["findings"]}


def _tree(root: Path, *stems: str) -> Path:
    from dis_audit.testing import make_pair

    for stem in stems or (GOOD,):
        make_pair(root, "DIS-TR", stem, size=(8, 6))
    return root


def _png(width: int, height: int, bad_crc: bool = False) -> bytes:
    def chunk(kind: bytes, data: bytes, crc_delta: int = 0) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", (zlib.crc32(kind + data) + crc_delta) & 0xFFFFFFFF)

    raw = b"".join(b"\0" + b"\x80" * width for _ in range(height))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw), 1 if bad_crc else 0) + chunk(b"IEND", b""))


def _applied(root: Path) -> Path:
    """ROOT with two samples renamed by a map and a manifest; returns the journal."""
    from dis_audit.testing import make_pair

    for i in range(2):
        make_pair(root, "DS", f"IMG_{i}", size=(8, 6))
    (root / "classes.csv").write_text("key,class\nIMG_0,Bag\nIMG_1,Kite\n")
    Run("scan", root, "--workers", "1")
    Run("rename", root, "--class-from", f"map:{root / 'classes.csv'}", "--apply")
    return sorted((root / ".dis-audit").glob("rename-*.jsonl"))[-1]


# ----------------------------------------------------------------------------- the kinds
# Each takes (parent, root) and returns its outcome in words; an assertion fails the kind.

def journal_dst_outside(parent: Path, root: Path) -> str:
    journal = _applied(root)
    Run("rename", root, "--undo")
    text = journal.read_text().replace('"dst":"DS/im/', '"dst":"../../', 1).splitlines()
    journal.write_text("\n".join(line for line in text if '"type":"undo' not in line and '"type":"undone' not in line) + "\n")
    r = Run("rename", root, "--resume")
    assert r.code == 1 and "../../" in r.err
    return "refused before any move, exit 1: " + r.err.split(": ", 2)[-1][:70]


def journal_header_other_manifest(parent: Path, root: Path) -> str:
    journal = _applied(root)
    lines = journal.read_text().splitlines()
    head = json.loads(lines[0])
    head["manifest"] = str(parent / "outside" / "created.parquet")
    journal.write_text("\n".join([json.dumps(head), *lines[1:]]) + "\n")
    r = Run("rename", root, "--undo")
    assert not (parent / "outside" / "created.parquet").exists() and r.code == 1
    return "names restored, no file created; exit 1 with a warning: " + r.err.split("warning: ")[-1][:60]


def manifest_is_a_device(parent: Path, root: Path) -> str:
    _tree(root)
    fifo = parent / "inputs" / "fifo"
    os.mkfifo(fifo)
    r = Run("scan", root, "--manifest", fifo)
    assert r.code == 2 and "not a regular file" in r.err
    Run("scan", root)
    r2 = Run("report", root / "manifest.parquet", "--html", fifo)
    r3 = Run("rename", root, "--plan-out", fifo)
    assert r2.code == r3.code == 2 and "not a regular file" in r2.err + r3.err
    import stat

    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)
    return f"refused, exit {r.code} (scan --manifest, report --html, rename --plan-out); the FIFO stays"


def torn_journal_tail(parent: Path, root: Path) -> str:
    journal = _applied(root)
    original = tree_state(root)
    with open(journal, "a") as fh:
        fh.write('{"type":"undo-do')
    r1 = Run("rename", root, "--undo")
    assert r1.code == 0 and journal.read_bytes().endswith(b"\n")
    assert tree_state(root) != original
    return "tail cut before the next append; --undo exit 0, journal stays readable"


def int32_overflow(parent: Path, root: Path) -> str:
    _tree(root)
    (root / "DIS-TR/im/1#Accessories#1#Bag#big_o.png").write_bytes(_png(1, 1)[:16] + struct.pack(">II", 2**31, 10)
                                                                   + _png(1, 1)[24:])
    r = Run("scan", root, "--json", "--workers", "1")
    assert r.code == 1 and "DA301" in r.codes()
    return "finding DA301 (header gives size beyond 2147483647), exit 1"


def non_utf8_dataset_folder(parent: Path, root: Path) -> str:
    _tree(root)
    os.rename(root / "DIS-TR", os.fsencode(root) + b"/DIS\xff")
    r = Run("scan", root, "--json", "--workers", "1")
    assert r.code == 1 and "DA106" in r.codes()
    return f"finding DA106 for each file ({len(json.loads(r.out)['findings'])}), exit 1"


def _damaged_manifest(root: Path, edit: Callable) -> Path:
    import pyarrow.parquet as pq

    _tree(root)
    Run("scan", root, "--workers", "1")
    manifest = root / "manifest.parquet"
    pq.write_table(edit(pq.read_table(manifest)), manifest)
    return manifest


def _readers(root: Path, manifest: Path) -> list[int]:
    return [
        Run("report", manifest, "--html", root / "r.html").code,
        Run("relabel", root, "--manifest", manifest).code,
        Run("merge", manifest, "-o", root / "m.parquet").code,
        Run("rename", root, "--manifest", manifest, "--class-from", "fuzzy").code,
        Run("scan", root, "--incremental", "--manifest", manifest, "--no-manifest", "--workers", "1").code,
    ]


def manifest_metadata_wrong_type(parent: Path, root: Path) -> str:
    def edit(table):
        meta = dict(table.schema.metadata)
        data = json.loads(meta[b"dis_audit"])
        data["vocabulary"], data["options"] = 5, {"select": 3}
        meta[b"dis_audit"] = json.dumps(data).encode()
        return table.replace_schema_metadata(meta)

    codes = _readers(root, _damaged_manifest(root, edit))
    # rename falls back to the default vocabulary with a note that names the field (exit 0), or refuses (2).
    assert codes[:3] == [2, 2, 2] and codes[3] in (0, 2)
    return ("one-line error naming the field, exit 2 (report, relabel, merge); rename: note, default vocabulary; "
            f"--incremental rescans: exit {codes[4]}")


def manifest_column_wrong_type(parent: Path, root: Path) -> str:
    import pyarrow as pa

    def edit(table):
        index = table.column_names.index("class_id")
        return table.set_column(index, "class_id", pa.array(["x"] * table.num_rows))

    codes = _readers(root, _damaged_manifest(root, edit))
    assert codes[:3] == [2, 2, 2] and codes[3] in (0, 2)
    return "one-line error 'column class_id is string, expected int32', exit 2 (report, relabel, merge)"


def journal_record_wrong_shape(parent: Path, root: Path) -> str:
    journal = _applied(root)
    with open(journal, "a") as fh:
        fh.write('{"type":"done","upto":"many"}\n')
    r = Run("rename", root, "--undo")
    assert r.code == 1 and "not a count" in r.err
    return "journal refused with line number and field, exit 1, nothing moved"


def backup_missing(parent: Path, root: Path) -> str:
    journal = _applied(root)
    for backup in journal.parent.glob("*.manifest.parquet"):
        backup.unlink()
    r = Run("rename", root, "--undo")
    assert r.code == 1 and "missing" in r.err
    return "every name restored; warning 'manifest backup ... is missing', exit 1"


def backup_corrupt(parent: Path, root: Path) -> str:
    journal = _applied(root)
    for backup in journal.parent.glob("*.manifest.parquet"):
        backup.write_bytes(b"PAR1 garbage")
    r = Run("rename", root, "--undo")
    assert r.code == 1 and "damaged" in r.err
    return "every name restored; warning 'manifest backup is damaged', exit 1"


def fifo_named_jpg(parent: Path, root: Path) -> str:
    _tree(root)
    os.mkfifo(root / "DIS-TR/im/1#Accessories#1#Bag#fifo_o.jpg")
    r = Run("scan", root, "--json", "--workers", "1", timeout=30)
    r2 = Run("scan", root, "--json", "--workers", "1", "--deep", "--no-manifest", timeout=30)
    assert r.code == 1 and "DA301" in r.codes() and "DA301" in r2.codes()
    return "finding DA301 'not a regular file (a FIFO)', no hang (also --deep), exit 1"


def workers_400(parent: Path, root: Path) -> str:
    _tree(root)
    r = Run("scan", root, "--workers", "400", "--deep", "--no-manifest")
    assert "capped at" in r.err
    return "message: " + r.err.strip().split("dis-audit: ")[-1]


def datasets_empty(parent: Path, root: Path) -> str:
    _tree(root)
    Run("scan", root)
    before = (root / "manifest.parquet").read_bytes()
    r = Run("scan", root, "--datasets", "")
    assert r.code == 2 and (root / "manifest.parquet").read_bytes() == before
    return "refused, exit 2, manifest untouched: " + r.err.split("error: ")[-1][:50]


def path_max(parent: Path, root: Path) -> str:
    _tree(root)
    fd = os.open(root / "DIS-TR/im", os.O_RDONLY)
    try:
        for _ in range(18):
            os.mkdir("d" * 250, dir_fd=fd)
            new = os.open("d" * 250, os.O_RDONLY, dir_fd=fd)
            os.close(fd)
            fd = new
        with open(os.open("x.jpg", os.O_WRONLY | os.O_CREAT, 0o644, dir_fd=fd), "wb") as fh:
            fh.write(PNG)
    finally:
        os.close(fd)
    r = Run("scan", root, "--json", "--workers", "1")
    assert "DA206" in r.codes()
    return "finding DA206 'path longer than the system allows (PATH_MAX)'"


def png_idat_crc(parent: Path, root: Path) -> str:
    _tree(root)
    (root / "DIS-TR/im/1#Accessories#1#Bag#a_o.jpg").unlink()
    (root / "DIS-TR/im/1#Accessories#1#Bag#a_o.png").write_bytes(_png(8, 6, bad_crc=True))
    r = Run("scan", root, "--json", "--deep", "--no-manifest", "--workers", "1")
    found = [f for f in json.loads(r.out)["findings"] if "CRC" in f["message"]]
    assert r.code == 1 and found
    return f"--deep finding {found[0]['code']} 'CRC error in the IDAT chunk', exit 1"


def control_characters(parent: Path, root: Path) -> str:
    _tree(root)
    (root / "DIS-TR/im/bad\x1b[31mred\nline.jpg").write_bytes(PNG)
    r = Run("scan", root, "--no-manifest")
    assert "\x1b" not in r.out and "\\x1b[31mred\\x0aline" in r.out.replace("\n", "")
    return "printed as \\x1b[31mred\\x0aline.jpg (no escape sequence, no line break reaches the terminal)"


def nfd_class_name(parent: Path, root: Path) -> str:
    _tree(root, GOOD, "1#Accessories#1#" + unicodedata.normalize("NFD", "Caf\u00e9") + "#b_o")
    (parent / "inputs" / "classes.txt").write_text("Bag\nCaf\u00e9\n")
    r = Run("scan", root, "--json", "--classes", parent / "inputs" / "classes.txt", "--no-manifest")
    message = next(f["message"] for f in json.loads(r.out)["findings"] if f["code"] == "DA103")
    assert "Unicode normalization" in message and "--class-from fuzzy" in message
    Run("rename", root, "--classes", parent / "inputs" / "classes.txt", "--class-from", "fuzzy", "--apply",
        "--no-manifest")
    assert Run("scan", root, "--json", "--classes", parent / "inputs" / "classes.txt", "--no-manifest").code == 0
    _tree(root, "1#Accessories#1#Caf\u00e9#c_o")
    os.rename(root / "DIS-TR/im/1#Accessories#1#Caf\u00e9#c_o.jpg",
              root / ("DIS-TR/im/1#Accessories#1#" + unicodedata.normalize("NFD", "Caf\u00e9") + "#d_o.jpg"))
    inferred = Run("scan", root, "--json", "--classes", "infer", "--no-manifest")
    assert "DA107" in inferred.codes()
    return "DA103 with the NFC/NFD hint, fixed by rename --class-from fuzzy; --classes infer: both kept + DA107"


def manifest_other_root(parent: Path, root: Path) -> str:
    other = parent / "inputs" / "other"
    _tree(other)
    Run("scan", other)
    _tree(root)
    r = Run("relabel", root, "--manifest", other / "manifest.parquet")
    assert "was scanned from" in r.err
    return "warning on stderr for relabel, report --root and merge: 'M was scanned from A, not B'"


def empty_or_garbage_journal(parent: Path, root: Path) -> str:
    _tree(root)
    (root / ".dis-audit").mkdir()
    (root / ".dis-audit/rename-20260101T000000-000000001-1.jsonl").write_bytes(b"")
    (root / ".dis-audit/rename-20260101T000000-000000002-1.jsonl").write_bytes(b"\x00\xff garbage\n{")
    r = Run("rename", root, "--undo")
    assert r.code == 1 and "could not be read" in r.err and "is empty" in r.err
    return "exit 1 naming each journal and why ('is empty', 'not a dis-audit rename journal')"


def output_permissions(parent: Path, root: Path) -> str:
    _tree(root)
    old = os.umask(0o022)
    try:
        Run("scan", root)
        fresh = (root / "manifest.parquet").stat().st_mode & 0o777
        os.chmod(root / "manifest.parquet", 0o664)
        Run("scan", root)
        kept = (root / "manifest.parquet").stat().st_mode & 0o777
    finally:
        os.umask(old)
    assert (fresh, kept) == (0o644, 0o664)
    return f"new file {fresh:o} under umask 022, existing {kept:o} kept"


def journal_named_outside(parent: Path, root: Path) -> str:
    journal = _applied(root)
    copy = parent / "inputs" / journal.name
    copy.write_bytes(journal.read_bytes())
    r = Run("rename", root, "--undo", copy)
    assert r.code == 1 and "is not a journal of" in r.err
    return "a journal outside ROOT/.dis-audit is refused, exit 1"


def crash_before_manifest_record(parent: Path, root: Path) -> str:
    journal = _applied(root)
    lines = journal.read_text().splitlines()
    journal.write_text("\n".join(line for line in lines if '"type":"manifest"' not in line) + "\n")
    r = Run("rename", root, "--undo")
    assert r.code == 0
    return "undo recognises apply's own rewrite (recomputed) and restores the backup byte for byte"


KINDS: dict[str, Callable[[Path, Path], str]] = {
    "journal move with dst ../../x.png (--resume)": journal_dst_outside,
    "journal header naming another manifest (--undo)": journal_header_other_manifest,
    "--manifest / --html is a device node or FIFO": manifest_is_a_device,
    "torn journal tail, then --resume/--undo": torn_journal_tail,
    "PNG declaring width 2^31": int32_overflow,
    "dataset folder name not UTF-8": non_utf8_dataset_folder,
    "manifest metadata of the wrong type (5 readers)": manifest_metadata_wrong_type,
    "manifest column of the wrong type (5 readers)": manifest_column_wrong_type,
    "journal record of the wrong shape": journal_record_wrong_shape,
    "manifest backup missing (--undo)": backup_missing,
    "manifest backup corrupt (--undo)": backup_corrupt,
    "FIFO named .jpg": fifo_named_jpg,
    "--workers 400 --deep on few cores": workers_400,
    "--datasets \"\"": datasets_empty,
    "path longer than PATH_MAX": path_max,
    "PNG with a wrong IDAT CRC (--deep)": png_idat_crc,
    "control characters and newline in a name": control_characters,
    "NFD class name vs NFC vocabulary": nfd_class_name,
    "manifest from another root": manifest_other_root,
    "empty or garbage journal": empty_or_garbage_journal,
    "output permissions (umask, existing mode)": output_permissions,
    "journal named outside ROOT/.dis-audit": journal_named_outside,
    "crash between manifest rewrite and its journal record": crash_before_manifest_record,
}


def try_kind(name: str) -> str:
    """Run one kind under a fresh parent folder; returns its outcome, raises AssertionError on a broken promise.

    The kind's own inputs (a FIFO, a class list, another tree) go to ``parent/inputs``; everything
    else beside ROOT is snapshot before and compared after.
    """
    with tempfile.TemporaryDirectory() as tmp:
        parent = outside_world(Path(tmp))
        root = parent / "ROOT"
        root.mkdir()
        (parent / "inputs").mkdir()
        before = snapshot(parent, skip=(b"ROOT", b"inputs"))
        outcome = KINDS[name](parent, root)
        assert snapshot(parent, skip=(b"ROOT", b"inputs")) == before, "something outside ROOT changed"
        return outcome


if __name__ == "__main__":
    print("| kind | outcome | promise kept |\n| --- | --- | --- |")
    kept = 0
    for kind in KINDS:
        try:
            outcome, ok = try_kind(kind), True
        except (AssertionError, subprocess.TimeoutExpired) as exc:
            outcome, ok = f"BROKEN: {type(exc).__name__}: {str(exc)[:120]}", False
        kept += ok
        print(f"| {kind} | {outcome} | {'yes' if ok else '**no**'} |", flush=True)
    print(f"\n{kept} of {len(KINDS)} kinds keep every promise")
