"""ScanOptions: typed manifest options that read old and newer manifests and write them back unchanged."""

from __future__ import annotations

import json

from dis_audit import crossfile
from dis_audit.dupes import DEFAULT_MAX_DISTANCE
from dis_audit.findings import RuleSelection
from dis_audit.manifest import ListingRecord, ManifestMeta, ScanOptions, columns_to_table

# What a scan of this version writes (every key, set or not).
SCANNED = {
    "image_dir": None, "mask_dir": "gt", "datasets": ["DIS-TR", "DIS-VD"], "classes": "dis5k", "extend_vocab": False,
    "difficulty_map": {"DIS-TR": "DIS-TR"}, "select": ["DA"], "ignore": ["DA105"], "fingerprint": "[]",
    "extended_classes": [], "deep": True, "max_pixels": 1000, "eval_datasets": ["DIS-VD"], "near_dup_distance": 6,
    "shard": "1/4",
    "listings": [{"name": "DIS-TR", "rel": "DIS-TR", "image_dir": "im", "mask_dir": "gt", "clutter": 2}],
}


def test_typed_fields_read_what_scan_wrote_and_write_it_back_unchanged():
    options = ScanOptions.from_dict(SCANNED)
    assert options.datasets == ("DIS-TR", "DIS-VD") and options.ignore == ("DA105",)
    assert options.eval_datasets == ("DIS-VD",) and options.max_pixels == 1000 and options.deep is True
    assert options.listings == (ListingRecord("DIS-TR", "DIS-TR", "im", "gt", 2),)
    assert options.to_dict() == SCANNED


def test_options_made_in_memory_write_every_scan_key():
    assert ScanOptions.from_dict(SCANNED).updated(present=None).to_dict() == SCANNED
    assert set(ScanOptions().to_dict()) == set(SCANNED)


def test_old_manifests_missing_keys_read_with_defaults_and_keep_their_shape():
    old = {"classes": "infer", "select": ["DA"], "ignore": [], "difficulty_map": {}}
    options = ScanOptions.from_dict(old)
    assert options.shard is None and options.listings is None and options.near_dup_distance is None
    assert options.to_dict() == old
    assert options.updated(relabel={"class_from": ["x"]}).to_dict() == {**old, "relabel": {"class_from": ["x"]}}


def test_newer_manifests_keep_the_keys_this_version_does_not_know():
    newer = {**SCANNED, "future_option": {"a": 1}}
    options = ScanOptions.from_dict(newer)
    assert options.extra == {"future_option": {"a": 1}}
    assert options.to_dict() == newer


def test_a_merged_manifest_carries_merged_from_and_no_shard():
    merged = ScanOptions.from_dict(SCANNED).updated(shard=None, merged_from=4)
    data = merged.to_dict()
    assert data["merged_from"] == 4 and "shard" not in data
    assert ScanOptions.from_dict(data).to_dict() == data


def test_manifest_meta_round_trips_options_and_hand_built_meta_writes_none():
    meta = ManifestMeta(vocabulary=["a"], options=ScanOptions.from_dict(SCANNED))
    again = ManifestMeta.from_bytes(meta.to_bytes())
    assert again.options == meta.options and again.to_bytes() == meta.to_bytes()
    assert json.loads(ManifestMeta(vocabulary=["a"]).to_bytes())["options"] == {}
    assert ManifestMeta.from_bytes(b'{"options": null}').options == ScanOptions()


def test_a_near_duplicate_distance_of_zero_is_kept(monkeypatch):
    # 0 (exact pHash matches only) is a valid distance; it must not fall back to the default.
    seen = []
    monkeypatch.setattr(crossfile, "with_dup_groups", lambda table, distance: seen.append(distance) or table)
    table = columns_to_table({"image_path": ["a.jpg"], "dataset": ["DIS-TR"], "issues": [[]]})
    selection = RuleSelection(("DA",), ())
    crossfile.run_manifest_checks(table, selection, ScanOptions(near_dup_distance=0))
    crossfile.run_manifest_checks(table, selection, ScanOptions())
    assert seen == [0, DEFAULT_MAX_DISTANCE]
