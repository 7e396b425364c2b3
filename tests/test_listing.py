"""The one-pass listing (listing.list_and_pair) gives exactly the two-pass listing of layout, on tricky trees."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from dis_audit import scan
from dis_audit.layout import discover_datasets, index_folder, pair_dataset, undecodable_dataset
from dis_audit.listing import flat_listing, list_and_pair

STEMS = ["a", "a-b", "a_b", "a.b.c", "Z", "1#Accessories#1#Bag#2", "x" * 200]


def _touch(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"")


def _two_pass(root: Path, ds):
    images = index_folder(root, ds.image_dir)
    masks = index_folder(root, ds.mask_dir) if ds.mask_dir else None
    return undecodable_dataset(ds, images, masks) or pair_dataset(ds, images, masks)


def _tree(root: Path, kind: str) -> bool:
    """Build one dataset shaped like ``kind``; return whether the flat (one-pass) path should take it."""
    im, gt = root / "set" / "im", root / "set" / "gt"
    for stem in STEMS:
        _touch(im / f"{stem}.jpg")
        _touch(gt / f"{stem}.png")
    if kind == "flat":
        return True
    if kind == "orphans-and-missing":
        (im / "Z.jpg").unlink()
        (gt / "a.png").unlink()
        _touch(gt / "only-mask.png")
        return True
    if kind == "upper-and-odd-extensions":
        _touch(im / "UP.JPG")
        _touch(gt / "UP.PNG")
        _touch(im / ".jpg")  # BiRefNet lists it too
        _touch(im / "b.JpEg")
        return True
    if kind == "no-mask-folder":
        for p in gt.iterdir():
            p.unlink()
        gt.rmdir()
        return True
    if kind == "ambiguous-image":
        _touch(im / "a.png")
        return False
    if kind == "ambiguous-mask":
        _touch(gt / "a.jpg")
        _touch(gt / "a.bmp")
        return False
    if kind == "clutter":
        _touch(im / "notes.txt")
        _touch(gt / "Thumbs")
        return False
    if kind == "hidden-clutter":
        _touch(gt / ".DS_Store")
        return False
    if kind == "nested":
        _touch(im / "sub" / "deep.jpg")
        _touch(gt / "sub" / "deep.png")
        (im / ".hidden").mkdir()
        return False
    if kind == "folder-named-like-an-image":
        (im / "dir.jpg").mkdir()
        return True  # taken as a file by both paths (the probe reports it)
    if kind == "non-ascii":
        _touch(im / "caf\u00e9.jpg")
        _touch(gt / "caf\u00e9.png")
        return False
    if kind == "undecodable":
        os.close(os.open(os.fsencode(im) + b"/bad\xff.jpg", os.O_CREAT | os.O_WRONLY))
        return False
    if kind == "extension-inside-stems":  # the one-extension path splits names on ".jpg" + separator
        for stem in ("a.jpg", ".jpg", "jpg", "a.jpg.jpg", "b.png"):
            _touch(im / f"{stem}.jpg")
        _touch(gt / "a.jpg.png")
        _touch(gt / ".jpg.png")
        return True
    if kind == "one-upper-extension":
        for folder, ext in ((im, ".JPG"), (gt, ".PNG")):
            for p in folder.iterdir():
                p.rename(p.with_suffix(ext))
        return True
    if kind == "empty-mask-folder":
        for p in gt.iterdir():
            p.unlink()
        return True
    if kind == "empty-image-folder":
        for p in im.iterdir():
            p.unlink()
        return True
    if kind == "broken-link":
        os.symlink(root / "nowhere", im / "dangling")
        return False
    raise AssertionError(kind)


KINDS = [
    "flat", "orphans-and-missing", "upper-and-odd-extensions", "no-mask-folder", "ambiguous-image", "ambiguous-mask",
    "clutter", "hidden-clutter", "nested", "folder-named-like-an-image", "non-ascii", "undecodable", "broken-link",
    "extension-inside-stems", "one-upper-extension", "empty-mask-folder", "empty-image-folder",
]


@pytest.mark.parametrize("kind", KINDS)
def test_one_pass_listing_equals_two_pass(tmp_path, kind):
    if kind == "undecodable" and os.uname().sysname == "Darwin":
        pytest.skip("macOS refuses names that are not UTF-8")
    flat = _tree(tmp_path, kind)
    (ds,) = discover_datasets(tmp_path)
    expected = _two_pass(tmp_path, ds)
    assert list_and_pair(tmp_path, ds) == expected
    # The fast path is taken exactly where it can be (else the comparison above proves little).
    assert (flat_listing(str(tmp_path), ds) is not None) == flat
    if flat:
        assert flat_listing(str(tmp_path), ds) == expected


def test_scan_rows_and_findings_unchanged_by_the_one_pass_listing(tmp_path, monkeypatch):
    """Whole scans agree: the manifest table and every finding, fast path on against forced off."""
    for kind, where in (("orphans-and-missing", "a"), ("clutter", "b"), ("upper-and-odd-extensions", "c"),
                        ("extension-inside-stems", "d"), ("flat", "e")):
        _tree(tmp_path / where, kind)
    fast = scan(tmp_path, workers=1)
    monkeypatch.setattr("dis_audit.listing.flat_listing", lambda root, ds: None)
    slow = scan(tmp_path, workers=1)
    assert fast.table.num_rows > 0 and fast.findings
    assert fast.table.equals(slow.table)
    assert [f.to_dict() for f in fast.findings] == [f.to_dict() for f in slow.findings]
