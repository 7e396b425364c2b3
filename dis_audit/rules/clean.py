"""Which samples the per-sample checks must judge one by one, and which they already judged: the clean key.

A header scan runs every family's ``check_sample`` on every pair, some 10 µs of Python a pair. For
a well-formed pair (both files read, neither cut short, same size, under the loader's pixel
limit, a mask present) those checks read nothing of the sample beyond what ``clean_key``
returns: the dataset (its folders, mask folder, difficulty), whether the image is nested, the
two extensions, whether the loader lists the image, the two files' format and mode, and the
name's field count and first four fields (the class and its indices). Paths and sizes only
appear in messages, and a clean pair has none. So once the checks found one pair of a key
clean, every other well-formed pair of that key is clean too, with the same label: the scan
(``_evaluate``) runs the checks for the first pair of each key and reuses the verdict after.

Whatever is not well-formed gets None and always goes through the checks, so every finding
still comes from them. The key is tied to the checks below: a new per-sample rule that reads
more of a well-formed sample must add what it reads here (``KNOWN_CHECKS`` turns the shortcut
off for a family this module has not been taught about; ``tests/test_clean_key.py`` compares the
two paths on trees that trip every per-sample rule).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from ..loaders import LoaderProfile
from ..probe import FileInfo
from .base import CheckFamily
from .images import ImageChecks
from .masks import MaskChecks
from .naming import NamingChecks
from .pairing import PairingChecks
from .quality import QualityChecks

#: The ``check_sample`` hooks whose reading ``clean_key`` summarises (QualityChecks reads only
#: ``--deep`` facts, and the shortcut is off with ``--deep``).
KNOWN_CHECKS: frozenset[Callable[..., None]] = frozenset({
    NamingChecks.check_sample, PairingChecks.check_sample, ImageChecks.check_sample, MaskChecks.check_sample,
    QualityChecks.check_sample,
})

#: ``clean_key``'s key: dataset, nested, image extension, mask extension, listed by the loader,
#: image format, image mode, mask format, mask mode, field count, then the first four fields.
CleanKey = tuple[Any, ...]


def shortcut_applies(families: Sequence[CheckFamily], deep: bool) -> bool:
    """Whether verdicts may be reused by ``clean_key``: a header scan whose per-sample checks are all known."""
    if deep:
        return False
    hooks = {type(f).check_sample for f in families if type(f).check_sample is not CheckFamily.check_sample}
    return hooks <= KNOWN_CHECKS


def clean_key(
    dataset: str, nested: bool, image_path: str, image_ext: str, mask_path: str | None, fields: list[str],
    image: FileInfo, mask: FileInfo | None, loader: LoaderProfile,
) -> CleanKey | None:
    """The key of a well-formed pair (see the module docstring), or None: the checks must judge it.

    ``image_ext`` and ``fields`` are the image name's extension (``naming.split_path``) and its
    stem split on ``#`` (``naming.parse_name``'s fields).
    """
    # Indices of FileInfo: 0 size, 2 format, 3 mode, 4 width, 5 height, 6 error, 7 truncated.
    if mask is None or mask_path is None or image[6] is not None or mask[6] is not None:
        return None
    if image[7] is not None or mask[7] is not None or not image[0] or not mask[0]:
        return None
    width, height = image[4], image[5]
    # Same size (DA403), both under the decoder limit (DA310): width * height is the mask's too.
    if not width or not height or width != mask[4] or height != mask[5] or width * height > loader.max_pixels:
        return None
    slash = mask_path.rfind("/") + 1
    dot = mask_path.rfind(".")
    mask_ext = mask_path[dot:] if dot > slash else ""
    listed = loader.lists_image(image_path[image_path.rfind("/") + 1 :])
    return (dataset, nested, image_ext, mask_ext, listed, image[2], image[3], mask[2], mask[3], len(fields), *fields[:4])

