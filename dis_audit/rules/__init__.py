"""The rule registry: every family of checks, and every rule by code.

The scanner asks this module for checks; it never names a rule itself. A new family is a
module with a ``CheckFamily`` subclass, added to ``FAMILIES``; a new rule goes into its family's
``rules`` with the next free code of the family's prefix. The registry checks itself when the
package is imported (``build_registry``): a duplicate code or name, a code outside its family's
prefix or an ill-formed alias stops the import with a ``RegistryError`` naming the culprit.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

from ..findings import Rule, find_rule
from .base import CheckFamily, Sample
from .duplicates import DuplicateChecks
from .images import ImageChecks
from .masks import MaskChecks
from .naming import NamingChecks
from .pairing import PairingChecks
from .quality import QualityChecks

#: Code prefix of each family, as the docs and --select/--ignore users know them.
FAMILY_PREFIXES: dict[str, str] = {
    "naming": "DA1", "pairing": "DA2", "images": "DA3", "masks": "DA4", "duplicates": "DA5",
    "quality": "DA6",
}
_CODE = re.compile(r"^DA\d{3}$")


class RegistryError(RuntimeError):
    """The rule registry is inconsistent (a programming error, found at import time)."""


def build_registry(families: Iterable[CheckFamily]) -> dict[str, Rule]:
    """Every rule of ``families`` by code, after checking that codes and prefixes hold together.

    Checked: each family's prefix is the one ``FAMILY_PREFIXES`` gives its title (when listed) and no
    two families share one; every code is ``DA`` + 3 digits, starts with its family's prefix and is
    unique; rule names are unique; cross-file codes belong to their family; an alias is a well-formed
    code other than the rule's own, claimed by one rule only.
    """
    rules: dict[str, Rule] = {}
    names: dict[str, str] = {}
    prefixes: dict[str, str] = {}
    alias_owner: dict[str, str] = {}
    for family in families:
        title, prefix = family.title, family.prefix
        expected = FAMILY_PREFIXES.get(title)
        if expected is not None and prefix != expected:
            raise RegistryError(f"family {title!r} has prefix {prefix!r}; the {title} family is {expected}")
        if not re.fullmatch(r"DA\d", prefix):
            raise RegistryError(f"family {title!r} has prefix {prefix!r}; a prefix is DA and one digit")
        if prefix in prefixes:
            raise RegistryError(f"families {prefixes[prefix]!r} and {title!r} share the prefix {prefix}")
        prefixes[prefix] = title
        for rule in family.rules:
            if not _CODE.match(rule.code):
                raise RegistryError(f"rule code {rule.code!r} ({rule.name}) is not DA + 3 digits")
            if not rule.code.startswith(prefix):
                raise RegistryError(
                    f"rule {rule.code} {rule.name} is in the {title} family, whose codes start with {prefix}"
                )
            if rule.code in rules:
                raise RegistryError(f"rule code {rule.code} is used twice: {rules[rule.code].name} and {rule.name}")
            if rule.name in names:
                raise RegistryError(f"rule name {rule.name!r} is used twice: {names[rule.name]} and {rule.code}")
            for alias in rule.aliases:
                if not _CODE.match(alias) or alias == rule.code:
                    raise RegistryError(f"rule {rule.code} has the alias {alias!r}; an alias is another DA code")
                if alias in alias_owner:
                    raise RegistryError(f"alias {alias} is claimed by {alias_owner[alias]} and {rule.code}")
                alias_owner[alias] = rule.code
            rules[rule.code] = rule
            names[rule.name] = rule.code
        stray = [code for code in family.cross_file if not any(r.code == code for r in family.rules)]
        if stray:
            raise RegistryError(f"family {title!r} lists cross-file codes it has no rule for: {', '.join(stray)}")
    return rules


FAMILIES: tuple[CheckFamily, ...] = (
    NamingChecks(), PairingChecks(), ImageChecks(), MaskChecks(), DuplicateChecks(), QualityChecks(),
)

ALL_RULES: dict[str, Rule] = build_registry(FAMILIES)
#: Codes emitted by ``check_manifest`` hooks: recomputed over the whole manifest on every scan/merge.
CROSS_FILE_CODES: frozenset[str] = frozenset(code for family in FAMILIES for code in family.cross_file)


#: Rules with a threshold (``[thresholds]`` in the configuration): code -> the ``scan()`` keyword it sets.
#: DA305 and DA413 share one limit: images and masks are decoded under the same pixel budget.
RULE_THRESHOLDS: dict[str, str] = {"DA305": "max_pixels", "DA413": "max_pixels", "DA502": "near_dup_distance"}


def threshold_options(thresholds: Mapping[str, int] | None) -> dict[str, int]:
    """``{"near-duplicate": 4}`` (codes or names) as scan keywords (``{"near_dup_distance": 4}``).

    ValueError for a key that names no rule, or a rule without a threshold.
    """
    out: dict[str, int] = {}
    for key, value in (thresholds or {}).items():
        found = find_rule(key, ALL_RULES)
        if found is None:
            raise ValueError(f"thresholds: no rule {key!r} (a code or name; see `dis-audit rules`)")
        option = RULE_THRESHOLDS.get(found.code)
        if option is None:
            with_threshold = ", ".join(f"{c} {ALL_RULES[c].name}" for c in RULE_THRESHOLDS)
            raise ValueError(f"thresholds: rule {found.code} {found.name} has no threshold; rules with one: {with_threshold}")
        if option in out and out[option] != value:
            raise ValueError(f"thresholds: {key} = {value} contradicts another rule sharing the threshold ({out[option]})")
        out[option] = value
    return out


def rule(code: str) -> Rule:
    """The rule with ``code``; KeyError for an unknown code."""
    return ALL_RULES[code]


__all__ = [
    "ALL_RULES", "CROSS_FILE_CODES", "FAMILIES", "FAMILY_PREFIXES", "RULE_THRESHOLDS", "CheckFamily", "RegistryError",
    "Sample", "build_registry", "rule", "threshold_options",
]
