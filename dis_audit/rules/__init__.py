"""The rule registry: every family of checks, and every rule by code.

The scanner asks this module for checks; it never names a rule itself. A new family is a
module with a ``CheckFamily`` subclass, added to ``FAMILIES``.
"""

from __future__ import annotations

from ..findings import Rule
from .base import CheckFamily, Sample
from .duplicates import DuplicateChecks
from .images import ImageChecks
from .masks import MaskChecks
from .naming import NamingChecks
from .pairing import PairingChecks

FAMILIES: tuple[CheckFamily, ...] = (
    NamingChecks(), PairingChecks(), ImageChecks(), MaskChecks(), DuplicateChecks(),
)

ALL_RULES: dict[str, Rule] = {rule.code: rule for family in FAMILIES for rule in family.rules}
#: Codes emitted by ``check_manifest`` hooks: recomputed over the whole manifest on every scan/merge.
CROSS_FILE_CODES: frozenset[str] = frozenset(code for family in FAMILIES for code in family.cross_file)


def rule(code: str) -> Rule:
    """The rule with ``code``; KeyError for an unknown code."""
    return ALL_RULES[code]


__all__ = ["ALL_RULES", "CROSS_FILE_CODES", "FAMILIES", "CheckFamily", "Sample", "rule"]
