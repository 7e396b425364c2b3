"""The sections of the HTML page, each drawn from the report model: markup only, no counting.

Each function returns one ``<section>`` (``masks`` returns "" when there is nothing to show).
Data text goes through ``esc``; numbers are formatted here.
"""

from __future__ import annotations

from collections import Counter

from ..findings import Severity
from .markup import bar, bar_cell, esc
from .model import ReportModel, RuleGroup, natural_key
from .previews import Card, PageLimits, Previews

#: Unknown class fields and vocabulary classes without samples listed at most.
MAX_UNKNOWN_LISTED = 200
MAX_ABSENT_LISTED = 1000
#: Class bars shown open; the rest of a longer list is folded (219 DIS5K classes make a long page).
OPEN_CLASS_ROWS = 20
#: A class × difficulty matrix with more rows than this is folded behind its summary line.
OPEN_MATRIX_ROWS = 30


def summary(model: ReportModel) -> str:
    """Headline numbers: samples, labels, datasets, classes, findings per severity."""
    s = model.summary
    findings = s["findings"]
    items = [
        ("Samples", f"{s['samples']:,}"),
        ("Labelled", f"{s['labelled']:,}"),
        ("Class −1", f"{s['unlabelled']:,}"),
        ("Datasets", f"{sum(1 for d in model.datasets if d.samples):,}"),
        ("Classes present", f"{len(model.class_counts):,} of {s['vocabulary_size']:,}"),
        ("Errors", f"{findings['error']:,}"),
        ("Warnings", f"{findings['warning']:,}"),
        ("Info", f"{findings['info']:,}"),
    ]
    cards = "".join(
        f'<div class="stat{" bad" if k == "Errors" and findings["error"] else ""}"><dt>{esc(k)}</dt><dd>{esc(v)}</dd></div>'
        for k, v in items
    )
    scan_kind = (
        "deep scan (decoded pixels, hashes)" if model.has_hashes
        else "header scan (run `scan --deep` for mask quality and duplicates)"
    )
    return (
        '<section id="summary" aria-labelledby="h-summary"><h2 id="h-summary">Summary</h2>'
        f'<dl class="stats">{cards}</dl><p class="muted">Manifest from a {esc(scan_kind)}.</p></section>'
    )


def datasets(model: ReportModel) -> str:
    """One row per dataset, naturally sorted, with a labelled / class −1 bar on one scale."""
    rows = sorted(model.datasets, key=lambda r: natural_key(r.name))
    peak = max((r.samples for r in rows), default=0) or 1
    body = []
    for r in rows:
        cells = "".join(
            f'<td class="num{" hot" if sev is Severity.ERROR and r.count(sev) else ""}">{r.count(sev):,}</td>'
            for sev in Severity
        )
        body.append(
            f'<tr><th scope="row">{esc(r.name)}</th><td>{_split_cell(r.split)}</td><td>{esc(r.difficulty)}</td>'
            f'<td class="num">{r.samples:,}</td><td class="num">{r.labelled:,}</td>'
            f'<td class="num{" hot" if r.unlabelled else ""}">{r.unlabelled:,}</td>{cells}'
            + bar_cell(bar(100 * r.labelled / peak), bar(100 * r.unlabelled / peak, "neg"))
            + "</tr>"
        )
    return (
        '<section id="datasets" aria-labelledby="h-datasets"><h2 id="h-datasets">Datasets</h2>'
        '<table class="data"><caption>Samples per dataset; the bar shows labelled (blue) and class −1 (red) '
        "samples on one scale</caption><thead><tr><th scope=\"col\">dataset</th><th scope=\"col\">split</th>"
        '<th scope="col">difficulty</th><th scope="col">samples</th><th scope="col">labelled</th>'
        '<th scope="col">−1</th><th scope="col">errors</th><th scope="col">warnings</th><th scope="col">info</th>'
        f'<th scope="col">share</th></tr></thead><tbody>{"".join(body)}</tbody></table></section>'
    )


def classes(model: ReportModel, limits: PageLimits) -> str:
    """Samples per class (largest first, capped), unknown class fields, vocabulary classes with no sample."""
    counts = model.class_counts
    parts = ['<section id="classes" aria-labelledby="h-classes"><h2 id="h-classes">Classes</h2>']
    if counts:
        values = sorted(c.count for c in counts)
        median = values[len(values) // 2]
        big, small = counts[0], counts[-1]
        parts.append(
            f"<p>{len(counts):,} classes have samples. Largest: {esc(big.name)} ({big.count:,}); "
            f"smallest: {esc(small.name)} ({small.count:,}); ratio {big.count / small.count:.1f} : 1; "
            f"median {median:,}. Bars in amber are classes under a tenth of the median.</p>"
        )
        shown = counts[: limits.classes]
        rows = [
            f'<tr><th scope="row">{esc(c.name)}</th><td class="num">{c.count:,}</td>'
            + bar_cell(bar(100 * c.count / big.count, "low" if c.count * 10 < median else "ok"))
            + "</tr>"
            for c in shown
        ]
        more = len(counts) - len(shown)
        tail = f"<p class=\"muted\">… and {more:,} smaller classes not drawn.</p>" if more > 0 else ""
        head = ('<thead><tr><th scope="col">class</th><th scope="col">samples</th><th scope="col">share</th>'
                "</tr></thead>")
        parts.append(
            f'<table class="data bars"><caption>Samples per class, largest first</caption>{head}'
            f"<tbody>{''.join(rows[:OPEN_CLASS_ROWS])}</tbody></table>"
        )
        if len(rows) > OPEN_CLASS_ROWS:
            parts.append(
                f'<details class="more-classes"><summary>{len(rows) - OPEN_CLASS_ROWS:,} more classes</summary>'
                f'<table class="data bars"><caption>Samples per class, continued</caption>{head}'
                f"<tbody>{''.join(rows[OPEN_CLASS_ROWS:])}</tbody></table></details>"
            )
        parts.append(tail)
    else:
        parts.append("<p>No sample has a class.</p>")
    # Class fields the vocabulary does not know: a typo or a class to add.
    unknown = model.unknown_classes
    if unknown:
        items = "".join(
            f"<li>{esc(u.name)} <span class=\"muted\">× {u.count:,}</span></li>" for u in unknown[:MAX_UNKNOWN_LISTED]
        )
        parts.append(f"<h3>Class names not in the vocabulary</h3><ul class=\"inline\">{items}</ul>")
    absent = model.absent_classes
    if absent and counts:
        items = "".join(f"<li>{esc(name)}</li>" for name in absent[:MAX_ABSENT_LISTED])
        rest = f"<li>… {len(absent) - MAX_ABSENT_LISTED:,} more</li>" if len(absent) > MAX_ABSENT_LISTED else ""
        parts.append(
            f"<details><summary>{len(absent):,} vocabulary classes have no sample</summary>"
            f'<ul class="inline">{items}{rest}</ul></details>'
        )
    parts.append("</section>")
    return "".join(parts)


def matrix(model: ReportModel, limits: PageLimits) -> str:
    """Samples per class and difficulty as a heat table; a dot marks a class missing at a difficulty."""
    m = model.class_difficulty
    shown = m.class_ids[: limits.classes]
    head = "".join(f'<th scope="col">{esc(d)}</th>' for d in m.difficulties)
    body = []
    for cid in shown:
        row = m.cells[cid]
        tds = []
        for d in m.difficulties:
            n = row.get(d, 0)
            if n:
                alpha = 0.12 + 0.78 * n / m.peak
                dark = " dark" if alpha > 0.55 else ""
                tds.append(f'<td class="num heat{dark}" style="background:rgba(37,99,235,{alpha:.2f})">{n:,}</td>')
            else:
                tds.append('<td class="num zero">·</td>')
        body.append(
            f'<tr><th scope="row">{esc(model.class_label(cid))}</th>{"".join(tds)}'
            f'<td class="num total">{sum(row.values()):,}</td></tr>'
        )
    totals: Counter[str] = Counter()
    for row in m.cells.values():
        totals.update(row)
    foot = "".join(f'<td class="num total">{totals[d]:,}</td>' for d in m.difficulties)
    more = len(m.class_ids) - len(shown)
    tail = f'<p class="muted">… and {more:,} more classes not shown.</p>' if more > 0 else ""
    table = (
        '<div class="scroll"><table class="data matrix"><caption>Samples per class (rows) and difficulty '
        f'(columns)</caption><thead><tr><th scope="col">class</th>{head}<th scope="col">total</th></tr></thead>'
        f'<tbody>{"".join(body)}</tbody><tfoot><tr><th scope="row">total</th>{foot}'
        f'<td class="num total">{model.num_rows:,}</td></tr></tfoot></table></div>{tail}'
    )
    if len(shown) > OPEN_MATRIX_ROWS:
        missing = sum(1 for cid in shown for d in m.difficulties if not m.cells[cid].get(d))
        table = (f'<details class="matrix-fold"><summary>Show the matrix: {len(m.class_ids):,} classes × '
                 f"{len(m.difficulties):,} difficulties, {missing:,} empty cells</summary>{table}</details>")
    return (
        '<section id="matrix" aria-labelledby="h-matrix"><h2 id="h-matrix">Class × difficulty</h2>'
        '<p class="muted">A dot is a class with no sample at that difficulty: it cannot be evaluated (or '
        f"learned) there. Difficulties run from easy to hard where their names say so.</p>{table}</section>"
    )


def masks(model: ReportModel) -> str:
    """Mask kinds and the foreground-share histogram of a deep scan; "" without one."""
    if not model.has_mask_stats:
        return ""
    parts = ['<section id="masks" aria-labelledby="h-masks"><h2 id="h-masks">Mask quality</h2>']
    kinds = model.mask_kinds
    if kinds:
        peak = kinds[0][1]
        rows = "".join(
            f'<tr><th scope="row">{esc(k)}</th><td class="num">{n:,}</td>{bar_cell(bar(100 * n / peak))}</tr>'
            for k, n in kinds
        )
        parts.append(
            '<table class="data bars"><caption>Masks per kind</caption><thead><tr><th scope="col">kind</th>'
            f'<th scope="col">masks</th><th scope="col">share</th></tr></thead><tbody>{rows}</tbody></table>'
        )
    hist = model.fg_ratio_histogram
    if hist:
        peak = max(hist) or 1
        step = 100 // len(hist)
        rows = "".join(
            f'<tr><th scope="row">{step * i}–{step * (i + 1)} %</th><td class="num">{n:,}</td>'
            f"{bar_cell(bar(100 * n / peak))}</tr>"
            for i, n in enumerate(hist)
        )
        parts.append(
            '<table class="data bars"><caption>Foreground share of the mask (fg_ratio)</caption><thead><tr>'
            f'<th scope="col">foreground</th><th scope="col">masks</th><th scope="col">share</th></tr></thead>'
            f"<tbody>{rows}</tbody></table>"
        )
    parts.append("</section>")
    return "".join(parts)


def findings(model: ReportModel, previews: Previews, cards: dict[str, list[Card]], limits: PageLimits) -> str:
    """A table of the rules that fired, then per rule its documentation, example cards and the full list."""
    groups = model.rule_groups
    parts = ['<section id="findings" aria-labelledby="h-findings"><h2 id="h-findings">Findings by rule</h2>']
    if not groups:
        parts.append("<p>No findings: every check passed.</p></section>")
        return "".join(parts)
    rows = []
    for g in groups:
        names = g.datasets
        rows.append(
            f'<tr><th scope="row"><a href="#rule-{esc(g.code)}">{esc(g.code)}</a></th>'
            f'<td>{esc(g.rule.name if g.rule else "")}</td>{_badge_cell(g)}<td class="num">{len(g.findings):,}</td>'
            f"<td>{esc(', '.join(names[:8]) + (' …' if len(names) > 8 else ''))}</td></tr>"
        )
    parts.append(
        '<table class="data"><caption>Rules that fired, errors first</caption><thead><tr><th scope="col">code</th>'
        '<th scope="col">name</th><th scope="col">severity</th><th scope="col">findings</th>'
        f'<th scope="col">datasets</th></tr></thead><tbody>{"".join(rows)}</tbody></table>'
    )
    for g in groups:
        parts.append(_rule_article(g, previews, cards.get(g.code) or [], limits))
    parts.append("</section>")
    return "".join(parts)


def _split_cell(split: str | None) -> str:
    if split:
        return esc(split)
    # No role from the name (easy/medium/hard folders, say): --eval-datasets gives one.
    return '<span class="muted" title="no train/eval role: pass --eval-datasets to give one">none</span>'


def _badge(g: RuleGroup) -> str:
    sev = esc(g.severity.value)
    return f'<span class="sev {sev}">{sev}</span>'


def _badge_cell(g: RuleGroup) -> str:
    return f"<td>{_badge(g)}</td>"


def _rule_article(g: RuleGroup, previews: Previews, cards: list[Card], limits: PageLimits) -> str:
    code, items, rule = esc(g.code), g.findings, g.rule
    heading = (
        f'<article class="rule" id="rule-{code}" aria-labelledby="h-rule-{code}">'
        f'<h3 id="h-rule-{code}">{_badge(g)} {code} '
        f'{esc(rule.name if rule else "")} <span class="muted">× {len(items):,}</span></h3>'
    )
    parts = [heading]
    if rule:
        parts.append(
            f'<p>{esc(rule.summary)}</p><dl class="doc"><dt>Why it matters</dt><dd>{esc(rule.why)}</dd>'
            f"<dt>Fix</dt><dd>{esc(rule.fix)}</dd></dl>"
        )
    else:
        fix = items[0].fix
        parts.append(
            "<p class=\"muted\">This dis-audit version has no documentation for this code.</p>"
            + (f'<dl class="doc"><dt>Fix</dt><dd>{esc(fix)}</dd></dl>' if fix else "")
        )
    if cards:
        parts.append('<ul class="cards">' + "".join(previews.card(card) for card in cards) + "</ul>")
    listed = items[: limits.listed]
    lis = "".join(f'<tr><td class="path">{esc(f.path)}</td><td>{esc(f.message)}</td></tr>' for f in listed)
    more = len(items) - len(listed)
    if more:
        label = f"First {len(listed):,} of {len(items):,} findings"
    else:
        label = "The finding as text" if len(items) == 1 else f"All {len(items):,} findings"
    tail = (
        f'<p class="muted">… {more:,} more: `dis-audit scan --json` or '
        "<code>dis_audit.manifest.read_findings</code> lists every one.</p>"
        if more > 0
        else ""
    )
    parts.append(
        f'<details><summary>{label}</summary><table class="data list"><thead><tr><th scope="col">path</th>'
        f'<th scope="col">message</th></tr></thead><tbody>{lis}</tbody></table>{tail}</details></article>'
    )
    return "".join(parts)


def duplicates(model: ReportModel, previews: Previews, keys: dict[int, list[str | None]], limits: PageLimits) -> str:
    """Duplicate groups, leaks first, each with its members side by side (capped)."""
    groups = model.dup_groups
    parts = ['<section id="duplicates" aria-labelledby="h-dups"><h2 id="h-dups">Duplicates and leakage</h2>']
    if model.num_rows and not model.has_hashes and not groups:
        parts.append(
            "<p>No duplicate information: this manifest comes from a scan without <code>--deep</code>.</p></section>"
        )
        return "".join(parts)
    if not groups:
        parts.append("<p>No exact or near-duplicate files.</p></section>")
        return "".join(parts)
    leaks = sum(g.leak for g in groups)
    files = sum(len(g.rows) for g in groups)
    parts.append(
        f"<p>{len(groups):,} groups hold {files:,} files; <strong>{leaks:,}</strong> groups span a training and an "
        "evaluation dataset (leakage: the score on that evaluation set is inflated).</p>"
    )
    for g in groups[: limits.groups]:
        label = "leakage: training ↔ evaluation" if g.leak else "duplicates"
        codes = f" · {esc(', '.join(g.codes))}" if g.codes else ""
        shown = keys.get(g.id, [])
        figs = []
        for r, key in zip(g.rows, shown):
            digest = model.sha1_of(r)
            cap = f"{model.row_datasets[r]} · {model.image_paths[r]}" + (f" · sha1 {digest[:10]}" if digest else "")
            figs.append(previews.figure(key, cap, "preview limit reached"))
        extra = len(g.rows) - len(shown)
        more = f'<p class="muted">+ {extra:,} more files in this group</p>' if extra > 0 else ""
        parts.append(
            f'<article class="group{" leak" if g.leak else ""}"><h3><span class="sev {"error" if g.leak else "warning"}">'
            f'{esc(label)}</span> group {g.id} · {len(g.rows):,} files · {esc(", ".join(g.datasets))}{codes}</h3>'
            f'<div class="strip">{"".join(figs)}</div>{more}</article>'
        )
    if len(groups) > limits.groups:
        parts.append(f'<p class="muted">… and {len(groups) - limits.groups:,} more groups (column dup_group).</p>')
    parts.append("</section>")
    return "".join(parts)
