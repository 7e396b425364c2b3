"""Loader profiles: what a training loader lists, skips and fails on.

A profile is the set of facts about one loader that decide how dis-audit labels a file: the
folder names it opens (and whether their case matters), the extensions it lists and the order
in which it tries mask extensions, whether it sees sub-folders, which file the class is read
from, which decoder reads the pixels and how that decoder fails. The rules consult the profile
of the scan (``scan --loader NAME``); the manifest records its name in the scan options.

Profiles (facts checked against the real code, see tests/birefnet):

* ``birefnet``: upstream ZhengPeng7/BiRefNet ``dataset.MyData``: ``os.listdir`` of
  ``<task>/<dataset>/im`` (no sub-folders, folder names case-sensitive), images whose name
  ends with ``.png .jpg .PNG .JPG .JPEG`` (a file named just ``.jpg`` included), the mask
  found by replacing ``/im/`` with ``/gt/`` and trying the same extensions in order, a
  missing mask raises ``ValueError`` for the whole run, the class comes from the mask's file
  name, pixels are read by ``cv2.imread`` (a truncated PNG gives ``None`` and the run
  crashes in ``cv2.resize``; a JPEG truncated in its scan data decodes with a warning, the
  missing part grey, and trains).
* ``birefnet-fork``: the same with ``jpgs``/``masks`` (the jason-engage fork); chosen
  automatically when the datasets use that layout.
* ``dis-audit``: what :class:`dis_audit.torch.ManifestDataset` reads: every pair in the
  manifest, sub-folders included, any image extension, decoded by Pillow (which raises on
  any truncation).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace

from .naming import BIREFNET_EXTENSIONS


class LoaderError(ValueError):
    """An unknown loader profile name."""


@dataclass(frozen=True)
class LoaderProfile:
    """What one training loader lists, skips and fails on."""

    name: str
    #: One line for ``--help`` and reports.
    summary: str
    #: The image and mask folder names the loader opens, compared case-sensitively; None when
    #: the loader takes whatever folder pair the scan detected (or was told).
    image_dir: str | None
    mask_dir: str | None
    #: Image extensions listed (a case-sensitive ``endswith``); None: every image extension.
    image_extensions: tuple[str, ...] | None
    #: Mask extensions tried, in order; None: any image extension.
    mask_extensions: tuple[str, ...] | None
    #: Whether files in sub-folders of the image folder are listed.
    lists_subfolders: bool
    #: The file whose name the class is read from: ``"mask"`` or ``"image"``.
    class_from: str
    #: ``"cv2"`` (``cv2.imread``) or ``"pillow"``.
    decoder: str
    #: One missing mask stops the whole run (raised when the dataset is built).
    missing_mask_fails_run: bool
    #: Most pixels the decoder accepts before it refuses the file: OpenCV's
    #: CV_IO_MAX_IMAGE_PIXELS (2**30; cv2.imread raises above it), Pillow's
    #: DecompressionBombError threshold (twice Image.MAX_IMAGE_PIXELS).
    max_pixels: int = 2**30

    @property
    def truncated_jpeg_trains(self) -> bool:
        """OpenCV (libjpeg) decodes a JPEG cut short in its scan data with a warning; Pillow raises."""
        return self.decoder == "cv2"

    def lists_image(self, name: str) -> bool:
        """Whether the loader lists a file called ``name`` in its image folder."""
        if self.image_extensions is None:
            return True
        return name.endswith(self.image_extensions)

    def tries_mask(self, ext: str) -> bool:
        """Whether the loader looks for a mask with extension ``ext`` (with the dot, case kept)."""
        return self.mask_extensions is None or ext in self.mask_extensions

    def describe_crash(self) -> str:
        """How a file the decoder cannot read ends training under this loader."""
        if self.decoder == "cv2":
            return "cv2.imread returns None for it and the loader's cv2.resize raises: training crashes"
        return "Pillow raises when the loader decodes it (ManifestDataset leaves such rows out by default)"


BIREFNET = LoaderProfile(
    name="birefnet",
    summary="upstream BiRefNet dataset.MyData: im/gt, os.listdir, .png .jpg .PNG .JPG .JPEG, cv2.imread",
    image_dir="im", mask_dir="gt",
    image_extensions=BIREFNET_EXTENSIONS, mask_extensions=BIREFNET_EXTENSIONS,
    lists_subfolders=False, class_from="mask", decoder="cv2", missing_mask_fails_run=True,
)
# The fork's loader is upstream's with other folder names: derived, so the two cannot drift apart.
BIREFNET_FORK = replace(
    BIREFNET,
    name="birefnet-fork",
    summary="jason-engage/BiRefNet fork: as birefnet, with jpgs/masks",
    image_dir="jpgs", mask_dir="masks",
)
DIS_AUDIT = LoaderProfile(
    name="dis-audit",
    summary="dis_audit.torch.ManifestDataset: every manifest row, sub-folders and any image extension, Pillow",
    image_dir=None, mask_dir=None, image_extensions=None, mask_extensions=None,
    lists_subfolders=True, class_from="image", decoder="pillow", missing_mask_fails_run=False,
    max_pixels=2 * 89_478_485,
)

#: Every profile by name.
PROFILES: dict[str, LoaderProfile] = {p.name: p for p in (BIREFNET, BIREFNET_FORK, DIS_AUDIT)}
#: ``--loader`` value that picks the profile from the layout.
AUTO = "auto"


def get_profile(name: str) -> LoaderProfile:
    """The profile called ``name``; raises :class:`LoaderError` naming the choices."""
    try:
        return PROFILES[name]
    except KeyError:
        raise LoaderError(f"unknown loader {name!r}; choose one of: {', '.join([AUTO, *PROFILES])}") from None


def choose_profile(name: str | None, image_dirs: Iterable[str]) -> LoaderProfile:
    """Resolve ``--loader`` (None or ``"auto"``: by layout) given the datasets' image folder names.

    ``auto`` picks ``birefnet-fork`` when every image folder is called ``jpgs`` (any case), else
    ``birefnet``: its rules then describe what upstream BiRefNet would do with the files.
    """
    if name not in (None, AUTO):
        return get_profile(str(name))
    folded = {d.rsplit("/", 1)[-1].casefold() for d in image_dirs}
    if folded and folded <= {BIREFNET_FORK.image_dir}:
        return BIREFNET_FORK
    return BIREFNET
