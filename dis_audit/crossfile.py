"""Cross-file checks: the rules that read the whole manifest (duplicates, leakage, mask statistics).

A scan runs them after every sample is checked; a shard leaves them to ``merge``, which runs them
on the concatenated parts. Their codes are recomputed each time, so old ones are stripped first.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .arrowlists import to_arrow
from .dupes import DEFAULT_MAX_DISTANCE, with_dup_groups
from .findings import Emitter, Finding, RuleSelection
from .manifest import ScanOptions
from .rules import CROSS_FILE_CODES, FAMILIES

if TYPE_CHECKING:
    import pyarrow as pa


def strip_cross_file(table: pa.Table) -> pa.Table:
    """Drop cross-file codes from ``issues`` and clear ``dup_group``: both are recomputed on the whole."""
    import pyarrow as pa
    import pyarrow.compute as pc

    column = table.column("issues")
    # Looked for in Arrow first: nearly always there is none, and a million rows never become lists.
    cross = pc.is_in(pc.list_flatten(column), value_set=to_arrow(sorted(CROSS_FILE_CODES), pa.string()))
    if pc.any(cross).as_py():
        issues = column.to_pylist()
        cleaned = [[c for c in codes if c not in CROSS_FILE_CODES] for codes in issues]
        i = table.column_names.index("issues")
        table = table.set_column(i, table.schema.field("issues"), to_arrow(cleaned, pa.list_(pa.string())))
    i = table.column_names.index("dup_group")
    return table.set_column(i, table.schema.field("dup_group"), pa.nulls(table.num_rows, pa.int32()))


def run_manifest_checks(
    table: pa.Table, selection: RuleSelection, options: ScanOptions
) -> tuple[pa.Table, list[Finding]]:
    """Compute ``dup_group`` and run every family's ``check_manifest`` over the whole table.

    Returns the table with the groups set and the new codes added to each row's ``issues``,
    and the findings. ``options`` carries ``near_dup_distance`` and ``eval_datasets``.
    """
    import pyarrow as pa

    distance = DEFAULT_MAX_DISTANCE if options.near_dup_distance is None else options.near_dup_distance
    table = with_dup_groups(table, distance)
    emitter = Emitter(selection)
    for family in FAMILIES:
        family.check_manifest(table, emitter, options)
    if not emitter.findings:
        return table, []
    # A finding names an image or a mask path; either leads to its row.
    row_of: dict[str, int] = {}
    for i, (image, mask) in enumerate(zip(table.column("image_path").to_pylist(), table.column("mask_path").to_pylist())):
        row_of[image] = i
        if mask is not None:
            row_of.setdefault(mask, i)
    issues = table.column("issues").to_pylist()
    for finding in emitter.findings:
        row = row_of.get(finding.path)
        if row is not None and finding.code not in issues[row]:
            issues[row] = sorted([*issues[row], finding.code])
    i = table.column_names.index("issues")
    table = table.set_column(i, table.schema.field("issues"), to_arrow(issues, pa.list_(pa.string())))
    return table, list(emitter.findings)
