"""dis-audit: audit, relabel and train on BiRefNet / DIS5K-style segmentation datasets.

The public API imports no torch; ``dis_audit.torch`` holds the training helpers.
"""

from __future__ import annotations

__version__ = "0.1.0"

from .findings import Finding, Rule, RuleSelection, Severity  # noqa: E402
from .manifest import ManifestError, read_manifest, write_manifest  # noqa: E402
from .scan import ScanError, scan  # noqa: E402
from .summary import ScanResult  # noqa: E402
from .vocab import Vocabulary, builtin_dis5k  # noqa: E402

__all__ = [
    "Finding", "ManifestError", "Rule", "RuleSelection", "ScanError", "ScanResult", "Severity",
    "Vocabulary", "__version__", "builtin_dis5k", "read_manifest", "scan", "write_manifest",
]
