"""Which manifest rows ``ManifestDataset`` leaves out because their image or mask cannot be decoded."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from PIL import Image

#: Finding codes that mean Pillow cannot decode the image or mask (or must not: a decompression
#: bomb); rows carrying one are left out unless ``keep_unusable=True``. DA309 (a JPEG cut short
#: that OpenCV still decodes) is here too: Pillow raises "image file is truncated" for it.
UNUSABLE_CODES: frozenset[str] = frozenset(
    {"DA301", "DA302", "DA305", "DA306", "DA308", "DA309", "DA310", "DA401", "DA402", "DA406", "DA413"}
)


def unusable_rows(table: pa.Table) -> np.ndarray:
    """Boolean mask of rows whose image or mask cannot be used (see ``UNUSABLE_CODES``).

    A header scan does not report DA305 (only ``--deep`` does), so the header sizes are also
    compared with Pillow's decompression-bomb limit: Pillow warns above it and refuses a file
    above twice it, which would end the epoch with ``DecompressionBombError``.
    """
    n = len(table)
    bad = np.zeros(n, dtype=bool)
    if n == 0:
        return bad
    issues = table["issues"].combine_chunks()
    flat = pc.list_flatten(issues)
    if len(flat):
        parents = pc.list_parent_indices(issues).to_numpy(zero_copy_only=False)
        hit = pc.is_in(flat, value_set=pa.array(sorted(UNUSABLE_CODES))).to_numpy(zero_copy_only=False)
        bad[parents[hit]] = True
    limit = Image.MAX_IMAGE_PIXELS
    if limit:
        for w_col, h_col in (("width", "height"), ("mask_width", "mask_height")):
            w = pc.fill_null(table[w_col], 0).to_numpy().astype(np.int64)
            h = pc.fill_null(table[h_col], 0).to_numpy().astype(np.int64)
            bad |= w * h > int(limit)
    return bad
