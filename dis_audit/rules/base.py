"""The small interface every family of checks implements, and the sample view they read."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

from ..findings import Emitter, Rule
from ..layout import DatasetListing
from ..loaders import BIREFNET, LoaderProfile
from ..naming import ParsedName
from ..probe import FileInfo
from ..vocab import Vocabulary

if TYPE_CHECKING:
    import pyarrow as pa

    from ..deep import DeepInfo
    from ..manifest import ScanOptions
    from ..quality import QualityThresholds


@dataclass(slots=True)
class Sample:
    """Everything the per-sample checks may look at; paths are relative to the scan root."""

    dataset: str
    image_path: str
    mask_path: str | None
    nested: bool
    has_mask_dir: bool
    name: ParsedName
    image: FileInfo
    mask: FileInfo | None
    vocab: Vocabulary
    image_ext: str  # with the dot, case kept ('.JPG'); '' when none
    mask_ext: str
    #: Full-decode facts, set only by ``scan --deep``.
    deep: DeepInfo | None = None
    #: The DA6xx thresholds of this scan (defaults when None).
    thresholds: QualityThresholds | None = None
    #: The loader whose behaviour the labels follow (``scan --loader``).
    loader: LoaderProfile = BIREFNET
    #: The dataset's image and mask folder paths (relative to the root, as discovered).
    image_dir: str = ""
    mask_dir: str | None = None


class CheckFamily:
    """One family of rules (one code prefix). Override the hooks the family needs.

    ``check_dataset`` sees one dataset's listing (pairing, clutter, folders);
    ``check_sample`` sees one image with its mask; ``check_manifest`` sees the whole
    manifest table at the end (cross-file checks such as duplicates).
    """

    prefix: ClassVar[str] = ""
    title: ClassVar[str] = ""
    rules: ClassVar[tuple[Rule, ...]] = ()
    #: Codes this family emits from ``check_manifest``: recomputed on the whole manifest by every
    #: scan and merge, so an incremental scan or a merge drops their old findings first.
    cross_file: ClassVar[tuple[str, ...]] = ()

    def check_dataset(self, listing: DatasetListing, emit: Emitter) -> None:
        return None

    def check_sample(self, sample: Sample, emit: Emitter) -> None:
        return None

    def check_manifest(self, table: pa.Table, emit: Emitter, options: ScanOptions) -> None:
        return None
