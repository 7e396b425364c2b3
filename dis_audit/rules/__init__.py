"""The rule registry: every family of checks, and every rule by code.

The scanner asks this module for checks; it never names a rule itself. A new family is a
module with a ``CheckFamily`` subclass, added to ``FAMILIES``.
"""

from __future__ import annotations

from ..findings import Rule
from .base import CheckFamily, Sample
from .images import ImageChecks
from .masks import MaskChecks
from .naming import NamingChecks
from .pairing import PairingChecks

FAMILIES: tuple[CheckFamily, ...] = (NamingChecks(), PairingChecks(), ImageChecks(), MaskChecks())

ALL_RULES: dict[str, Rule] = {rule.code: rule for family in FAMILIES for rule in family.rules}


def rule(code: str) -> Rule:
    """The rule with ``code``; KeyError for an unknown code."""
    return ALL_RULES[code]


__all__ = ["ALL_RULES", "FAMILIES", "CheckFamily", "Sample", "rule"]
