"""Rules and findings, ruff-style: every check has a code, a name, a severity and a doc entry.

A rule never prints; a check emits findings through an ``Emitter``, which applies the
user's ``--select``/``--ignore`` and records which findings take a sample's label away.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from .hints import did_you_mean


class Severity(str, Enum):
    """How much a finding matters. Members are declared worst first: that order is the report order."""

    ERROR = "error"
    WARNING = "warning"
    INFO = "info"

    @property
    def rank(self) -> int:
        """0 for the worst severity, then 1, 2, ...: sort by it to put errors first."""
        return _SEVERITY_ORDER.index(self)


#: Every severity, worst first (the declaration order); the one definition of severity order.
_SEVERITY_ORDER: tuple[Severity, ...] = tuple(Severity)


class LabelEffect(str, Enum):
    """How a rule's finding affects the sample's class label."""

    NONE = "none"
    #: The label cannot exist (no class field, unknown class): -1 whatever the selection.
    INTRINSIC = "intrinsic"
    #: BiRefNet would skip or crash on the sample: -1 unless the user ignores the rule.
    POLICY = "policy"


@dataclass(frozen=True)
class Rule:
    """One check: its code (``DA`` + 3 digits), kebab-case name, severity and documentation.

    ``aliases`` are codes the rule's findings were reported under before; ``--select``/``--ignore``
    values that match an alias (or a prefix of one) match the rule too, so users' lists keep working.
    """

    code: str
    name: str
    severity: Severity
    summary: str
    why: str
    fix: str
    label: LabelEffect = LabelEffect.NONE
    aliases: tuple[str, ...] = ()

    @property
    def family(self) -> str:
        return self.code[:3]


@dataclass(frozen=True, slots=True)
class Finding:
    """One problem found: which rule, where (relative POSIX path from the root), and what to do."""

    code: str
    severity: Severity
    path: str
    message: str
    fix: str | None = None
    dataset: str | None = None
    related: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "code": self.code,
            "severity": self.severity.value,
            "path": self.path,
            "message": self.message,
        }
        if self.fix:
            out["fix"] = self.fix
        if self.dataset is not None:
            out["dataset"] = self.dataset
        if self.related:
            out["related"] = list(self.related)
        return out


class SelectionError(ValueError):
    """A --select/--ignore value names no rule."""


@dataclass(frozen=True)
class RuleSelection:
    """Which rules are on. The longest matching prefix decides; on a tie, ignore wins.

    A rule's former codes (``Rule.aliases``) count as its names too: with ``--ignore DA303`` the
    mask-side extension mismatch (DA412, reported as DA303 before) is off as well, and the longest
    prefix over the code and its aliases is what competes.
    """

    select: tuple[str, ...] = ("DA",)
    ignore: tuple[str, ...] = ()

    @classmethod
    def parse(
        cls, select: Iterable[str] | str | None, ignore: Iterable[str] | str | None,
        known: Iterable[str] | Mapping[str, Rule],
    ) -> RuleSelection:
        """Normalise ``--select``/``--ignore`` values; SelectionError for one that matches no code in ``known``.

        ``known`` is the codes, or the registry (code -> Rule), whose aliases are accepted as well.
        """
        by_name = {rule.name: code for code, rule in known.items()} if isinstance(known, Mapping) else {}

        def split(value: Iterable[str] | str | None) -> tuple[str, ...]:
            if value is None:
                return ()
            items = value.split(",") if isinstance(value, str) else [v for part in value for v in part.split(",")]
            # A rule name ('size-mismatch') stands for its code.
            return tuple(by_name.get(item.strip().lower(), item.strip().upper()) for item in items if item.strip())

        sel, ign = split(select) or ("DA",), split(ignore)
        codes = set(known)
        if isinstance(known, Mapping):
            codes.update(alias for rule in known.values() for alias in rule.aliases)
        for prefix in sel + ign:
            if not any(code.startswith(prefix) for code in codes):
                hint = did_you_mean(prefix.lower(), by_name)
                shown = prefix.lower() if "-" in prefix else prefix  # a mistyped name, as the user wrote it
                raise SelectionError(
                    f"unknown rule selector {shown!r}{hint} (a code, prefix or name: DA101, DA1, too-few-fields; "
                    "see `dis-audit rules`)"
                )
        return cls(sel, ign)

    def enabled(self, code: str, aliases: Iterable[str] = ()) -> bool:
        """Whether findings of the rule ``code`` (formerly reported as ``aliases``) are reported."""
        names = (code, *aliases)
        best_sel = max((len(p) for p in self.select for name in names if name.startswith(p)), default=-1)
        best_ign = max((len(p) for p in self.ignore for name in names if name.startswith(p)), default=-1)
        return best_sel > best_ign


@dataclass
class Emitter:
    """Collects findings for one unit of work (a sample or a dataset) under a selection."""

    selection: RuleSelection
    dataset: str | None = None
    findings: list[Finding] = field(default_factory=list)
    codes: list[str] = field(default_factory=list)
    label_status: str | None = None

    def emit(self, rule: Rule, path: str, message: str, fix: str | None = None, related: Iterable[str] = ()) -> None:
        on = self.selection.enabled(rule.code, rule.aliases)
        if self.label_status is None and (
            rule.label is LabelEffect.INTRINSIC or (rule.label is LabelEffect.POLICY and on)
        ):
            self.label_status = rule.code
        if on:
            self.codes.append(rule.code)
            self.findings.append(
                Finding(rule.code, rule.severity, path, message, fix or rule.fix, self.dataset, tuple(related))
            )

    def reset(self) -> None:
        self.findings = []
        self.codes = []
        self.label_status = None


def find_rule(token: str, rules: Mapping[str, Rule]) -> Rule | None:
    """The rule a code (any case), former code or kebab-case name stands for, or None."""
    text = token.strip()
    found = rules.get(text.upper())
    if found is not None:
        return found
    for rule in rules.values():
        if rule.name == text.lower() or text.upper() in rule.aliases:
            return rule
    return None


def rules_markdown(rules: Iterable[Rule]) -> str:
    """The rule reference page (docs/rules.md), generated so it never drifts from the code."""
    lines = [
        "# Rules",
        "",
        "Every check dis-audit runs, by code. Select or ignore them with `--select`/`--ignore` (or `select`/`ignore`",
        "in the [configuration](config.md)) and a code, a prefix or a name (`DA4`, `DA403`, `size-mismatch`).",
        "Families: DA1xx naming, DA2xx pairing, DA3xx images, DA4xx masks,",
        "DA5xx duplicates, DA6xx quality (`--deep`: picture quality and mask–image agreement). *Label* says whether the finding sets the sample's `class_id` to -1: `intrinsic`",
        "(the name carries no usable class, whatever you select), `policy` (BiRefNet would skip or crash on",
        "the sample; ignoring the rule keeps the label), or `none`.",
        "",
        "Generated by `dis-audit rules --markdown`.",
        "",
        "| code | name | severity | label |",
        "| --- | --- | --- | --- |",
    ]
    rules = list(rules)
    lines += [f"| [{r.code}](#{r.code.lower()}-{r.name}) | {r.name} | {r.severity.value} | {r.label.value} |" for r in rules]
    for r in rules:
        lines += ["", f"## {r.code} {r.name}", "", f"*{r.severity.value}*, label effect: {r.label.value}", "",
                  r.summary, "", f"**Why it matters.** {r.why}", "", f"**How to fix.** {r.fix}"]
    return "\n".join(lines) + "\n"
