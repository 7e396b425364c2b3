"""The self-contained visual HTML report of a manifest.

One file, nothing fetched: inline CSS, previews as ``data:`` JPEG URIs, bar charts as CSS
bars, no JavaScript at all (so it reads the same with scripts off and cannot throw), and a
Content-Security-Policy that forbids every network request, so a stray reference shows up
as a console error in the browser test instead of a silent fetch.

The manifest is the only input. Everything that comes from the data (file names, class
names, messages) goes through ``_e`` before it reaches the page; names may hold ``<``,
``&``, quotes, control characters and undecodable bytes.

Scale: previews are capped per rule and in total, text lists are capped per rule, and the
class tables are capped, so a 100k-row manifest gives a page of a few MB; previews are made
in a process pool.
"""

from __future__ import annotations

import base64
import html
import os
import re
import time
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from .. import __version__
from ..manifest import (
    METADATA_KEY,
    ManifestError,
    ManifestMeta,
    atomic_write_bytes,
    manifest_root,
    read_findings,
    read_manifest_table,
)
from ..paths import printable_text
from .thumbs import THUMB_SIZE, Thumb, ThumbJob, make_thumbs

#: Defaults chosen so the worst case (every rule firing, every group shown) stays near 2-3 MB.
MAX_THUMBS_PER_RULE = 6
MAX_THUMBS = 240
MAX_GROUPS = 30
MAX_GROUP_MEMBERS = 4
MAX_LISTED = 100
MAX_CLASSES = 300

_SEVERITY_RANK = {"error": 0, "warning": 1, "info": 2}
# Dataset names that mark a training split or an evaluation split (DIS-TR, DIS-TE1, DIS-VD, train, val ...).
_TRAIN_TOKEN = re.compile(r"^(tr|train|training)\d*$")
_EVAL_TOKEN = re.compile(r"^(te|vd|val|valid|validation|test|testing|eval)\d*$")


class ReportError(Exception):
    """The report cannot be made or written; the message says which file and why."""


@dataclass
class HtmlReport:
    """What ``render_html`` wrote: where, how big, how many previews, and how long it took."""

    path: Path | None
    size_bytes: int
    rows: int
    findings: int
    thumbnails: int
    thumbnail_s: float
    elapsed_s: float


# ----------------------------------------------------------------------------- escaping


def _e(value: object) -> str:
    """Escape data for HTML text and attribute values (quotes included)."""
    return html.escape(printable_text(value), quote=True)


def _natural_key(text: str) -> list[Any]:
    """Sort 'DIS-TE2' before 'DIS-TE10'."""
    return [int(part) if part.isdigit() else part.lower() for part in re.split(r"(\d+)", text)]


def split_of(dataset: str, eval_datasets: Iterable[str] = ()) -> str | None:
    """'train', 'eval' or None (unknown) for a dataset name, by ``eval_datasets`` or by its name's tokens."""
    if dataset in set(eval_datasets):
        return "eval"
    tokens = [t for t in re.split(r"[^0-9a-z]+", dataset.lower()) if t]
    if any(_EVAL_TOKEN.match(t) for t in tokens):
        return "eval"
    if any(_TRAIN_TOKEN.match(t) for t in tokens):
        return "train"
    return None


# ----------------------------------------------------------------------------- input


def _load(source: str | os.PathLike | pa.Table, root: str | os.PathLike | None) -> tuple[pa.Table, ManifestMeta, Path, str]:
    """(table, meta, dataset root, label of the source) from a manifest path or an Arrow table."""
    if isinstance(source, pa.Table):
        raw = (source.schema.metadata or {}).get(METADATA_KEY)
        if raw is None:
            raise ReportError("the table has no dis_audit metadata; build it with manifest.build_table")
        meta = ManifestMeta.from_bytes(raw)
        base = Path(root) if root is not None else Path(meta.root or ".")
        return source, meta, base, "in-memory manifest"
    path = Path(source)
    if path.is_dir():
        raise ManifestError(f"manifest path is a folder: {path}")
    table, meta = read_manifest_table(path)
    base = Path(root) if root is not None else manifest_root(path, meta)
    return table, meta, base, str(path)


# ----------------------------------------------------------------------------- the page model


@dataclass
class _Card:
    """One example on the page: one or more samples shown side by side, with the finding's text."""

    title: str
    message: str
    keys: list[str | None]  # preview keys, one per shown file (None: no preview possible)
    captions: list[str]
    extra: int = 0  # group members not shown


@dataclass
class _Plan:
    """Which previews to make, in priority order, under the total cap."""

    limit: int
    jobs: dict[str, ThumbJob] = field(default_factory=dict)
    skipped: int = 0
    static_notes: dict[str, tuple[str, ...]] = field(default_factory=dict)

    def want(self, key: str, job: ThumbJob, notes: tuple[str, ...] = ()) -> str | None:
        """Reserve a preview; None when the total cap is reached (the card then says so)."""
        if key in self.jobs:
            return key
        if len(self.jobs) >= self.limit:
            self.skipped += 1
            return None
        self.jobs[key] = job
        if notes:
            self.static_notes[key] = notes
        return key


class _Builder:
    """Turns one manifest into the HTML page. Holds the table, the findings and the limits."""

    def __init__(
        self,
        table: pa.Table,
        meta: ManifestMeta,
        root: Path,
        source_label: str,
        *,
        max_thumbs_per_rule: int,
        max_thumbs: int,
        max_groups: int,
        max_group_members: int,
        max_listed: int,
        max_classes: int,
        thumb_size: int,
        workers: int | None,
        title: str | None,
    ) -> None:
        self.table = table
        self.meta = meta
        self.root = root
        self.source_label = source_label
        self.findings = read_findings(table)
        self.max_thumbs_per_rule = max(0, max_thumbs_per_rule)
        self.max_groups = max(0, max_groups)
        self.max_group_members = max(1, max_group_members)
        self.max_listed = max(0, max_listed)
        self.max_classes = max(1, max_classes)
        self.thumb_size = thumb_size
        self.workers = workers
        self.title = title
        self.plan = _Plan(max(0, max_thumbs))
        self.thumbs: dict[str, Thumb] = {}
        self.thumbnail_s = 0.0
        self.n = table.num_rows
        self.image_paths: list[str] = table.column("image_path").to_pylist()
        self.mask_paths: list[str | None] = table.column("mask_path").to_pylist()
        self.datasets: list[str] = table.column("dataset").to_pylist()
        # Findings point at an image or a mask; both lead to the sample's row.
        self.row_of: dict[str, int] = {}
        for i, p in enumerate(self.mask_paths):
            if p is not None:
                self.row_of[p] = i
        for i, p in enumerate(self.image_paths):
            self.row_of[p] = i
        self.eval_datasets = list(meta.options.get("eval_datasets") or [])

    # --------------------------------------------------------------- names and previews

    def class_label(self, class_id: int | None) -> str:
        vocab = self.meta.vocabulary
        if class_id is None or class_id < 0:
            return "(no class: −1)"
        return vocab[class_id] if class_id < len(vocab) else f"class #{class_id}"

    def _abs(self, rel: str) -> str:
        return os.path.join(self.root, rel)

    def preview_for_row(self, row: int) -> str | None:
        image, mask = self.image_paths[row], self.mask_paths[row]
        job = ThumbJob(self._abs(image), self._abs(mask) if mask else None, self.thumb_size)
        return self.plan.want(f"row:{row}", job)

    def preview_for_path(self, path: str) -> tuple[str | None, str]:
        """A preview key for a finding's path and a caption; folders and non-files get no preview."""
        row = self.row_of.get(path)
        if row is not None:
            return self.preview_for_row(row), self.image_paths[row]
        full = self._abs(path)
        if os.path.isfile(full):
            # A file outside the manifest's samples (an orphan mask, say): show the file alone.
            job = ThumbJob(full, None, self.thumb_size)
            return self.plan.want(f"file:{path}", job, ("not a sample in the manifest",)), path
        return None, path

    def run_thumbs(self) -> None:
        keys = list(self.plan.jobs)
        started = time.perf_counter()
        made = make_thumbs([self.plan.jobs[k] for k in keys], self.workers)
        self.thumbnail_s = time.perf_counter() - started
        for key, thumb in zip(keys, made):
            notes = self.plan.static_notes.get(key)
            if notes:
                # For a lone file, 'mask: none' is not news; say what it is instead.
                kept = tuple(n for n in thumb.notes if n != "mask: none") + notes
                thumb = Thumb(thumb.jpeg, thumb.width, thumb.height, kept)
            self.thumbs[key] = thumb

    def figure(self, key: str | None, caption: str, reason_if_none: str) -> str:
        """One preview with its caption; a text placeholder where there is no image."""
        cap = f'<figcaption><span class="path">{_e(caption)}</span>'
        if key is None:
            return f'<figure class="thumb"><div class="ph">{_e(reason_if_none)}</div>{cap}</figcaption></figure>'
        thumb = self.thumbs.get(key)
        notes = "".join(f'<span class="note">{_e(n)}</span>' for n in (thumb.notes if thumb else ()))
        if thumb is None or thumb.jpeg is None:
            return f'<figure class="thumb"><div class="ph">no preview</div>{cap}{notes}</figcaption></figure>'
        data = base64.b64encode(thumb.jpeg).decode("ascii")
        alt = f"Preview of {caption}: the image, then the image with its mask tinted magenta and outlined"
        return (
            f'<figure class="thumb"><img src="data:image/jpeg;base64,{data}" width="{thumb.width}" '
            f'height="{thumb.height}" alt="{_e(alt)}">{cap}{notes}</figcaption></figure>'
        )

    # --------------------------------------------------------------- aggregates

    def dataset_rows(self) -> list[dict[str, Any]]:
        ds = self.table.column("dataset")
        labelled_mask = pc.greater_equal(self.table.column("class_id"), 0)
        total = {d["values"]: d["counts"] for d in pc.value_counts(ds).to_pylist()}
        labelled = {d["values"]: d["counts"] for d in pc.value_counts(pc.filter(ds, labelled_mask)).to_pylist()}
        sev: dict[str, Counter] = defaultdict(Counter)
        for f in self.findings:
            sev[f.get("dataset") or ""][f.get("severity", "info")] += 1
        names = sorted(set(total) | {k for k in sev if k}, key=_natural_key)
        diff_pairs = self.table.group_by(["dataset", "difficulty"]).aggregate([]).to_pylist()
        diffs: dict[str, list[str]] = defaultdict(list)
        for pair in diff_pairs:
            diffs[pair["dataset"]].append(pair["difficulty"])
        return [
            {
                "name": name,
                "split": split_of(name, self.eval_datasets),
                "difficulty": ", ".join(sorted(diffs.get(name, []), key=_natural_key)),
                "samples": total.get(name, 0),
                "labelled": labelled.get(name, 0),
                "errors": sev[name]["error"],
                "warnings": sev[name]["warning"],
                "infos": sev[name]["info"],
            }
            for name in names
        ]

    def class_counts(self) -> list[tuple[int, int]]:
        """(class_id, count) for labelled rows, largest first."""
        ids = self.table.column("class_id")
        counts = pc.value_counts(pc.filter(ids, pc.greater_equal(ids, 0))).to_pylist()
        pairs = [(int(c["values"]), int(c["counts"])) for c in counts]
        return sorted(pairs, key=lambda p: (-p[1], self.class_label(p[0]).lower()))

    # --------------------------------------------------------------- sections

    def section_summary(self) -> str:
        sev = Counter(f.get("severity", "info") for f in self.findings)
        labelled = int(pc.sum(pc.greater_equal(self.table.column("class_id"), 0)).as_py() or 0) if self.n else 0
        present = len(self.class_counts())
        deep = self.n > 0 and self.table.column("sha1").null_count < self.n
        items = [
            ("Samples", f"{self.n:,}"),
            ("Labelled", f"{labelled:,}"),
            ("Class −1", f"{self.n - labelled:,}"),
            ("Datasets", f"{len(set(self.datasets)):,}"),
            ("Classes present", f"{present:,} of {len(self.meta.vocabulary):,}"),
            ("Errors", f"{sev['error']:,}"),
            ("Warnings", f"{sev['warning']:,}"),
            ("Info", f"{sev['info']:,}"),
        ]
        cards = "".join(
            f'<div class="stat{" bad" if k == "Errors" and sev["error"] else ""}"><dt>{_e(k)}</dt><dd>{_e(v)}</dd></div>'
            for k, v in items
        )
        scan_kind = "deep scan (decoded pixels, hashes)" if deep else "header scan (run `scan --deep` for mask quality and duplicates)"
        return (
            '<section id="summary" aria-labelledby="h-summary"><h2 id="h-summary">Summary</h2>'
            f'<dl class="stats">{cards}</dl><p class="muted">Manifest from a {_e(scan_kind)}.</p></section>'
        )

    def section_datasets(self) -> str:
        rows = self.dataset_rows()
        peak = max((r["samples"] for r in rows), default=0) or 1
        body = []
        for r in rows:
            unl = r["samples"] - r["labelled"]
            split = r["split"] or "?"
            bar = (
                f'<span class="seg ok" style="width:{100 * r["labelled"] / peak:.2f}%"></span>'
                f'<span class="seg neg" style="width:{100 * unl / peak:.2f}%"></span>'
            )
            body.append(
                f'<tr><th scope="row">{_e(r["name"])}</th><td>{_e(split)}</td><td>{_e(r["difficulty"])}</td>'
                f'<td class="num">{r["samples"]:,}</td><td class="num">{r["labelled"]:,}</td>'
                f'<td class="num{" hot" if unl else ""}">{unl:,}</td>'
                f'<td class="num{" hot" if r["errors"] else ""}">{r["errors"]:,}</td>'
                f'<td class="num">{r["warnings"]:,}</td><td class="num">{r["infos"]:,}</td>'
                f'<td class="barcell" aria-hidden="true"><div class="bar">{bar}</div></td></tr>'
            )
        return (
            '<section id="datasets" aria-labelledby="h-datasets"><h2 id="h-datasets">Datasets</h2>'
            '<table class="data"><caption>Samples per dataset; the bar shows labelled (blue) and class −1 (red) '
            "samples on one scale</caption><thead><tr><th scope=\"col\">dataset</th><th scope=\"col\">split</th>"
            '<th scope="col">difficulty</th><th scope="col">samples</th><th scope="col">labelled</th>'
            '<th scope="col">−1</th><th scope="col">errors</th><th scope="col">warnings</th><th scope="col">info</th>'
            f'<th scope="col">share</th></tr></thead><tbody>{"".join(body)}</tbody></table></section>'
        )

    def section_classes(self) -> str:
        counts = self.class_counts()
        parts = ['<section id="classes" aria-labelledby="h-classes"><h2 id="h-classes">Classes</h2>']
        if counts:
            values = sorted(c for _, c in counts)
            median = values[len(values) // 2]
            big, small = counts[0], counts[-1]
            parts.append(
                f"<p>{len(counts):,} classes have samples. Largest: {_e(self.class_label(big[0]))} ({big[1]:,}); "
                f"smallest: {_e(self.class_label(small[0]))} ({small[1]:,}); ratio {big[1] / small[1]:.1f} : 1; "
                f"median {median:,}. Bars in amber are classes under a tenth of the median.</p>"
            )
            peak = big[1]
            shown = counts[: self.max_classes]
            rows = "".join(
                f'<tr><th scope="row">{_e(self.class_label(cid))}</th><td class="num">{n:,}</td>'
                f'<td class="barcell" aria-hidden="true"><div class="bar"><span class="seg {"low" if n * 10 < median else "ok"}" '
                f'style="width:{100 * n / peak:.2f}%"></span></div></td></tr>'
                for cid, n in shown
            )
            more = len(counts) - len(shown)
            tail = f"<p class=\"muted\">… and {more:,} smaller classes not drawn.</p>" if more > 0 else ""
            parts.append(
                '<table class="data bars"><caption>Samples per class, largest first</caption><thead><tr>'
                '<th scope="col">class</th><th scope="col">samples</th><th scope="col">share</th></tr></thead>'
                f"<tbody>{rows}</tbody></table>{tail}"
            )
        else:
            parts.append("<p>No sample has a class.</p>")
        # Class fields the vocabulary does not know: a typo or a class to add.
        fields = self.table.column("class_field")
        vocab = pa.array(list(self.meta.vocabulary), type=pa.string())
        unknown_mask = pc.and_(pc.is_valid(fields), pc.invert(pc.is_in(fields, value_set=vocab)))
        unknown = pc.value_counts(pc.filter(fields, unknown_mask)).to_pylist()
        if unknown:
            unknown.sort(key=lambda u: (-u["counts"], str(u["values"])))
            items = "".join(f"<li>{_e(u['values'])} <span class=\"muted\">× {u['counts']:,}</span></li>" for u in unknown[:200])
            parts.append(f"<h3>Class names not in the vocabulary</h3><ul class=\"inline\">{items}</ul>")
        present = {cid for cid, _ in counts}
        absent = [name for i, name in enumerate(self.meta.vocabulary) if i not in present]
        if absent and counts:
            items = "".join(f"<li>{_e(name)}</li>" for name in absent[:1000])
            more = f"<li>… {len(absent) - 1000:,} more</li>" if len(absent) > 1000 else ""
            parts.append(
                f"<details><summary>{len(absent):,} vocabulary classes have no sample</summary>"
                f'<ul class="inline">{items}{more}</ul></details>'
            )
        parts.append("</section>")
        return "".join(parts)

    def section_matrix(self) -> str:
        grouped = self.table.group_by(["class_id", "difficulty"]).aggregate([("image_path", "count")]).to_pylist()
        diffs = sorted({g["difficulty"] for g in grouped}, key=_natural_key)
        cells: dict[int, dict[str, int]] = defaultdict(dict)
        for g in grouped:
            cells[int(g["class_id"])][g["difficulty"]] = int(g["image_path_count"])
        # Vocabulary order keeps related classes (same DIS group) together; −1 goes last.
        class_ids = sorted(cells, key=lambda c: (c < 0, c))
        shown = class_ids[: self.max_classes]
        peak = max((n for row in cells.values() for n in row.values()), default=1)
        head = "".join(f'<th scope="col">{_e(d)}</th>' for d in diffs)
        body = []
        for cid in shown:
            row = cells[cid]
            tds = []
            for d in diffs:
                n = row.get(d, 0)
                if n:
                    alpha = 0.12 + 0.78 * n / peak
                    dark = " dark" if alpha > 0.55 else ""
                    tds.append(f'<td class="num heat{dark}" style="background:rgba(37,99,235,{alpha:.2f})">{n:,}</td>')
                else:
                    tds.append('<td class="num zero">·</td>')
            body.append(
                f'<tr><th scope="row">{_e(self.class_label(cid))}</th>{"".join(tds)}'
                f'<td class="num total">{sum(row.values()):,}</td></tr>'
            )
        totals = Counter()
        for row in cells.values():
            totals.update(row)
        foot = "".join(f'<td class="num total">{totals[d]:,}</td>' for d in diffs)
        more = len(class_ids) - len(shown)
        tail = f'<p class="muted">… and {more:,} more classes not shown.</p>' if more > 0 else ""
        return (
            '<section id="matrix" aria-labelledby="h-matrix"><h2 id="h-matrix">Class × difficulty</h2>'
            '<p class="muted">A dot is a class with no sample at that difficulty: it cannot be evaluated (or '
            "learned) there.</p>"
            '<div class="scroll"><table class="data matrix"><caption>Samples per class (rows) and difficulty '
            f'(columns)</caption><thead><tr><th scope="col">class</th>{head}<th scope="col">total</th></tr></thead>'
            f'<tbody>{"".join(body)}</tbody><tfoot><tr><th scope="row">total</th>{foot}'
            f'<td class="num total">{self.n:,}</td></tr></tfoot></table></div>{tail}</section>'
        )

    def section_masks(self) -> str:
        kinds = self.table.column("mask_kind")
        ratios = self.table.column("fg_ratio")
        if self.n == 0 or (kinds.null_count == self.n and ratios.null_count == self.n):
            return ""
        parts = ['<section id="masks" aria-labelledby="h-masks"><h2 id="h-masks">Mask quality</h2>']
        kc = sorted(((k["values"], k["counts"]) for k in pc.value_counts(pc.drop_null(kinds)).to_pylist()), key=lambda kv: -kv[1])
        if kc:
            peak = kc[0][1]
            rows = "".join(
                f'<tr><th scope="row">{_e(k)}</th><td class="num">{n:,}</td><td class="barcell" aria-hidden="true">'
                f'<div class="bar"><span class="seg ok" style="width:{100 * n / peak:.2f}%"></span></div></td></tr>'
                for k, n in kc
            )
            parts.append(
                '<table class="data bars"><caption>Masks per kind</caption><thead><tr><th scope="col">kind</th>'
                f'<th scope="col">masks</th><th scope="col">share</th></tr></thead><tbody>{rows}</tbody></table>'
            )
        values = pc.drop_null(ratios).to_numpy(zero_copy_only=False)
        if len(values):
            import numpy as np

            hist, _ = np.histogram(np.clip(values, 0.0, 1.0), bins=10, range=(0.0, 1.0))
            peak = int(hist.max()) or 1
            rows = "".join(
                f'<tr><th scope="row">{10 * i}–{10 * (i + 1)} %</th><td class="num">{int(n):,}</td>'
                f'<td class="barcell" aria-hidden="true"><div class="bar"><span class="seg ok" '
                f'style="width:{100 * int(n) / peak:.2f}%"></span></div></td></tr>'
                for i, n in enumerate(hist)
            )
            parts.append(
                '<table class="data bars"><caption>Foreground share of the mask (fg_ratio)</caption><thead><tr>'
                f'<th scope="col">foreground</th><th scope="col">masks</th><th scope="col">share</th></tr></thead>'
                f"<tbody>{rows}</tbody></table>"
            )
        parts.append("</section>")
        return "".join(parts)

    # --------------------------------------------------------------- findings

    def rule_doc(self, code: str) -> dict[str, str]:
        from ..rules import ALL_RULES

        rule = ALL_RULES.get(code)
        if rule is None:
            return {}
        return {"name": rule.name, "severity": rule.severity.value, "summary": rule.summary, "why": rule.why, "fix": rule.fix}

    def grouped_findings(self) -> list[tuple[str, list[dict]]]:
        by_code: dict[str, list[dict]] = defaultdict(list)
        for f in self.findings:
            by_code[str(f.get("code", "?"))].append(f)

        def rank(code: str) -> tuple[int, str]:
            sev = self.rule_doc(code).get("severity") or by_code[code][0].get("severity", "info")
            return _SEVERITY_RANK.get(sev, 3), code

        return [(code, by_code[code]) for code in sorted(by_code, key=rank)]

    def plan_finding_cards(self, groups: list[tuple[str, list[dict]]]) -> dict[str, list[_Card]]:
        """Pick the first N findings of each rule for previews; rules come in severity order, so errors win the cap."""
        cards: dict[str, list[_Card]] = {}
        for code, items in groups:
            out = []
            for f in items[: self.max_thumbs_per_rule]:
                path = str(f.get("path", ""))
                key, caption = self.preview_for_path(path)
                keys, captions = [key], [caption]
                base_row = self.row_of.get(path)
                extra = 0
                # Related files of another sample (a duplicate, a leaked copy) are shown beside it;
                # a mask finding's related image is the same sample and adds nothing.
                others = []
                for rel in f.get("related") or []:
                    rel = str(rel)
                    row = self.row_of.get(rel)
                    if row is not None and row == base_row:
                        continue
                    others.append(rel)
                for rel in others[: self.max_group_members - 1]:
                    rkey, rcap = self.preview_for_path(rel)
                    keys.append(rkey)
                    captions.append(rcap)
                extra = max(0, len(others) - (self.max_group_members - 1))
                out.append(_Card(path, str(f.get("message", "")), keys, captions, extra))
            cards[code] = out
        return cards

    def section_findings(self, groups: list[tuple[str, list[dict]]], cards: dict[str, list[_Card]]) -> str:
        parts = ['<section id="findings" aria-labelledby="h-findings"><h2 id="h-findings">Findings by rule</h2>']
        if not groups:
            parts.append("<p>No findings: every check passed.</p></section>")
            return "".join(parts)
        rows = []
        for code, items in groups:
            doc = self.rule_doc(code)
            sev = doc.get("severity") or items[0].get("severity", "info")
            datasets = sorted({str(f.get("dataset")) for f in items if f.get("dataset")}, key=_natural_key)
            rows.append(
                f'<tr><th scope="row"><a href="#rule-{_e(code)}">{_e(code)}</a></th><td>{_e(doc.get("name", ""))}</td>'
                f'<td><span class="sev {_e(sev)}">{_e(sev)}</span></td><td class="num">{len(items):,}</td>'
                f"<td>{_e(', '.join(datasets[:8]) + (' …' if len(datasets) > 8 else ''))}</td></tr>"
            )
        parts.append(
            '<table class="data"><caption>Rules that fired, errors first</caption><thead><tr><th scope="col">code</th>'
            '<th scope="col">name</th><th scope="col">severity</th><th scope="col">findings</th>'
            f'<th scope="col">datasets</th></tr></thead><tbody>{"".join(rows)}</tbody></table>'
        )
        for code, items in groups:
            doc = self.rule_doc(code)
            sev = doc.get("severity") or items[0].get("severity", "info")
            parts.append(
                f'<article class="rule" id="rule-{_e(code)}" aria-labelledby="h-rule-{_e(code)}">'
                f'<h3 id="h-rule-{_e(code)}"><span class="sev {_e(sev)}">{_e(sev)}</span> {_e(code)} '
                f'{_e(doc.get("name", ""))} <span class="muted">× {len(items):,}</span></h3>'
            )
            if doc:
                parts.append(
                    f'<p>{_e(doc["summary"])}</p><dl class="doc"><dt>Why it matters</dt><dd>{_e(doc["why"])}</dd>'
                    f'<dt>Fix</dt><dd>{_e(doc["fix"])}</dd></dl>'
                )
            else:
                fix = items[0].get("fix")
                parts.append(
                    "<p class=\"muted\">This dis-audit version has no documentation for this code.</p>"
                    + (f'<dl class="doc"><dt>Fix</dt><dd>{_e(fix)}</dd></dl>' if fix else "")
                )
            if cards.get(code):
                parts.append('<ul class="cards">')
                for card in cards[code]:
                    parts.append(self.card_html(card))
                parts.append("</ul>")
            listed = items[: self.max_listed]
            lis = "".join(
                f'<tr><td class="path">{_e(f.get("path", ""))}</td><td>{_e(f.get("message", ""))}</td></tr>' for f in listed
            )
            more = len(items) - len(listed)
            summary = ("The finding as text" if len(items) == 1 else f"All {len(items):,} findings") if not more else f"First {len(listed):,} of {len(items):,} findings"
            tail = (
                f'<p class="muted">… {more:,} more: `dis-audit scan --json` or '
                "<code>dis_audit.manifest.read_findings</code> lists every one.</p>"
                if more > 0
                else ""
            )
            parts.append(
                f'<details><summary>{summary}</summary><table class="data list"><thead><tr><th scope="col">path</th>'
                f'<th scope="col">message</th></tr></thead><tbody>{lis}</tbody></table>{tail}</details></article>'
            )
        parts.append("</section>")
        return "".join(parts)

    def card_html(self, card: _Card) -> str:
        figs = "".join(
            self.figure(key, cap, self._why_no_preview(cap)) for key, cap in zip(card.keys, card.captions)
        )
        extra = f'<p class="muted">+ {card.extra:,} more related files</p>' if card.extra else ""
        return (
            f'<li class="card"><div class="strip">{figs}</div><p class="msg">{_e(card.message)}</p>{extra}</li>'
        )

    def _why_no_preview(self, path: str) -> str:
        if path in self.row_of or os.path.isfile(self._abs(path)):
            return "preview limit reached"
        if os.path.isdir(self._abs(path)):
            return "a folder"
        return "file not found"

    # --------------------------------------------------------------- duplicates

    def dup_groups(self) -> list[dict[str, Any]]:
        col = self.table.column("dup_group")
        if self.n == 0 or col.null_count == self.n:
            return []
        ids = col.to_pylist()
        members: dict[int, list[int]] = defaultdict(list)
        for i, g in enumerate(ids):
            if g is not None:
                members[int(g)].append(i)
        codes_by_path: dict[str, set[str]] = defaultdict(set)
        for f in self.findings:
            if f.get("related"):
                codes_by_path[str(f.get("path", ""))].add(str(f.get("code")))
        out = []
        for gid, rows in members.items():
            if len(rows) < 2:
                continue
            datasets = sorted({self.datasets[r] for r in rows}, key=_natural_key)
            splits = {split_of(d, self.eval_datasets) for d in datasets}
            codes = sorted({c for r in rows for p in (self.image_paths[r], self.mask_paths[r]) if p for c in codes_by_path.get(p, ())})
            leak = "train" in splits and "eval" in splits
            # Show one member per dataset first, so a leaked pair is visible even in a large group.
            firsts, rest, seen = [], [], set()
            for r in sorted(rows, key=lambda r: (_natural_key(self.datasets[r]), self.image_paths[r])):
                (rest if self.datasets[r] in seen else firsts).append(r)
                seen.add(self.datasets[r])
            out.append({"id": gid, "rows": firsts + rest, "datasets": datasets, "leak": leak, "codes": codes})
        out.sort(key=lambda g: (not g["leak"], -len(g["rows"]), g["id"]))
        return out

    def plan_groups(self, groups: list[dict[str, Any]]) -> None:
        for g in groups[: self.max_groups]:
            g["keys"] = [self.preview_for_row(r) for r in g["rows"][: self.max_group_members]]

    def section_duplicates(self, groups: list[dict[str, Any]]) -> str:
        parts = ['<section id="duplicates" aria-labelledby="h-dups"><h2 id="h-dups">Duplicates and leakage</h2>']
        if self.n and self.table.column("sha1").null_count == self.n and not groups:
            parts.append(
                "<p>No duplicate information: this manifest comes from a scan without <code>--deep</code>.</p></section>"
            )
            return "".join(parts)
        if not groups:
            parts.append("<p>No exact or near-duplicate files.</p></section>")
            return "".join(parts)
        leaks = sum(g["leak"] for g in groups)
        files = sum(len(g["rows"]) for g in groups)
        parts.append(
            f"<p>{len(groups):,} groups hold {files:,} files; <strong>{leaks:,}</strong> groups span a training and an "
            "evaluation dataset (leakage: the score on that evaluation set is inflated).</p>"
        )
        sha = self.table.column("sha1")
        for g in groups[: self.max_groups]:
            label = "leakage: training ↔ evaluation" if g["leak"] else "duplicates"
            codes = f" · {_e(', '.join(g['codes']))}" if g["codes"] else ""
            figs = []
            for r, key in zip(g["rows"], g["keys"]):
                digest = sha[r].as_py()
                cap = f"{self.datasets[r]} · {self.image_paths[r]}" + (f" · sha1 {digest[:10]}" if digest else "")
                figs.append(self.figure(key, cap, "preview limit reached"))
            extra = len(g["rows"]) - len(g["keys"])
            more = f'<p class="muted">+ {extra:,} more files in this group</p>' if extra > 0 else ""
            parts.append(
                f'<article class="group{" leak" if g["leak"] else ""}"><h3><span class="sev {"error" if g["leak"] else "warning"}">'
                f'{_e(label)}</span> group {g["id"]} · {len(g["rows"]):,} files · {_e(", ".join(g["datasets"]))}{codes}</h3>'
                f'<div class="strip">{"".join(figs)}</div>{more}</article>'
            )
        if len(groups) > self.max_groups:
            parts.append(f'<p class="muted">… and {len(groups) - self.max_groups:,} more groups (column dup_group).</p>')
        parts.append("</section>")
        return "".join(parts)

    # --------------------------------------------------------------- the page

    def build(self) -> str:
        groups = self.grouped_findings()
        dups = self.dup_groups()
        # Previews in priority order: rule examples (errors first), then duplicate groups (leaks first).
        cards = self.plan_finding_cards(groups)
        self.plan_groups(dups)
        self.run_thumbs()
        body = [
            self.section_summary(),
            self.section_datasets(),
            self.section_classes(),
            self.section_matrix(),
            self.section_masks(),
            self.section_findings(groups, cards),
            self.section_duplicates(dups),
        ]
        nav = [("summary", "Summary"), ("datasets", "Datasets"), ("classes", "Classes"), ("matrix", "Class × difficulty")]
        if body[4]:
            nav.append(("masks", "Mask quality"))
        nav += [("findings", "Findings"), ("duplicates", "Duplicates and leakage")]
        title = self.title or f"dis-audit report: {self.meta.root or self.source_label}"
        generated = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
        skipped = (
            f" {self.plan.skipped:,} further previews left out (limit {self.plan.limit:,})." if self.plan.skipped else ""
        )
        nav_items = "".join(f'<li><a href="#{a}">{_e(t)}</a></li>' for a, t in nav)
        header = (
            f"<header><h1>{_e(title)}</h1><p class=\"muted\">Manifest {_e(self.source_label)} · root {_e(self.root)} · "
            f"{self.n:,} rows · written by dis-audit {_e(self.meta.tool_version or '?')}, report by {_e(__version__)} "
            f"· {generated}. Previews: the image, then the image with its mask tinted magenta and outlined in yellow.{_e(skipped)}</p>"
            f'<nav aria-label="Sections"><ul>{nav_items}</ul></nav>'
            "</header>"
        )
        return (
            "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            # No network, no scripts: everything the page shows is in this file.
            "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; img-src data:; "
            "style-src 'unsafe-inline'\">"
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            '<link rel="icon" href="data:,">'
            f"<title>{_e(title)}</title><style>{_CSS}</style></head><body>{header}<main>{''.join(body)}</main>"
            "<footer><p class=\"muted\">Generated by dis-audit. Rules: <code>dis-audit rules CODE</code>.</p></footer>"
            "</body></html>\n"
        )


_CSS = """
:root{color-scheme:light;--fg:#1f2937;--muted:#6b7280;--line:#e5e7eb;--blue:#2563eb;--red:#dc2626;--amber:#d97706}
*{box-sizing:border-box}body{margin:0;font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:var(--fg);background:#fff}
header,main,footer{max-width:1200px;margin:0 auto;padding:0 20px}header{padding-top:16px}
h1{font-size:22px;margin:8px 0}h2{font-size:18px;margin:28px 0 8px;border-bottom:2px solid var(--line);padding-bottom:4px}
h3{font-size:15px;margin:18px 0 6px}.muted{color:var(--muted)}code{background:#f3f4f6;padding:0 3px;border-radius:3px}
nav ul{list-style:none;padding:0;margin:8px 0;display:flex;flex-wrap:wrap;gap:6px 16px}a{color:#1d4ed8}
.stats{display:flex;flex-wrap:wrap;gap:10px;margin:0}.stat{border:1px solid var(--line);border-radius:6px;padding:8px 14px;min-width:120px}
.stat dt{color:var(--muted);font-size:12px}.stat dd{margin:0;font-size:20px;font-weight:600}.stat.bad dd{color:var(--red)}
table.data{border-collapse:collapse;margin:8px 0;width:100%}table.data caption{text-align:left;color:var(--muted);padding:4px 0}
table.data th,table.data td{border-bottom:1px solid var(--line);padding:3px 8px;text-align:left;vertical-align:top}
table.data thead th{font-size:12px;color:var(--muted);font-weight:600}td.num{text-align:right;font-variant-numeric:tabular-nums}
td.hot{color:var(--red);font-weight:600}.barcell{width:45%}.bar{display:flex;height:14px;background:#f3f4f6;border-radius:2px}
.seg{display:block;height:100%}.seg.ok{background:var(--blue)}.seg.neg{background:var(--red)}.seg.low{background:var(--amber)}
table.bars th[scope=row]{white-space:nowrap;font-weight:normal;width:22%}table.bars td.num{width:90px}
.scroll{overflow-x:auto}table.matrix{width:auto}table.matrix th[scope=row]{white-space:nowrap;font-weight:normal}
td.heat.dark{color:#fff}td.zero{color:#c0c4cc}td.total{font-weight:600}
.sev{display:inline-block;border-radius:3px;padding:0 6px;font-size:12px;font-weight:600;color:#fff;background:#0369a1}
.sev.error{background:var(--red)}.sev.warning{background:var(--amber)}
article.rule,article.group{border:1px solid var(--line);border-radius:6px;padding:4px 14px 10px;margin:12px 0}
article.group.leak{border-color:var(--red)}article.group figure.thumb{border:1px solid var(--line);border-radius:4px;padding:4px}dl.doc{margin:6px 0}dl.doc dt{font-weight:600}dl.doc dd{margin:0 0 4px 0}
ul.cards{list-style:none;padding:0;display:flex;flex-wrap:wrap;gap:12px}.card{border:1px solid var(--line);border-radius:4px;padding:6px;max-width:100%}
.strip{display:flex;flex-wrap:wrap;gap:8px}figure.thumb{margin:0;max-width:300px}
figure.thumb img{display:block;height:112px;width:auto;max-width:300px;image-rendering:auto;background:#fafafa}
.ph{height:112px;width:150px;display:flex;align-items:center;justify-content:center;text-align:center;background:#f3f4f6;color:var(--muted);
border:1px dashed #cbd5e1;font-size:12px;padding:6px}
figcaption{font-size:12px;word-break:break-all}.path{font-family:ui-monospace,Menlo,Consolas,monospace;font-size:12px;word-break:break-all}
.note{display:block;color:#92400e}.msg{margin:4px 0 0;font-size:13px;max-width:420px}
ul.inline{padding-left:18px;columns:3 220px}table.list td{font-size:13px}details{margin:8px 0}summary{cursor:pointer}
@media print{nav{display:none}details{display:block}}
"""


# ----------------------------------------------------------------------------- public API


def build_html(
    source: str | os.PathLike | pa.Table,
    *,
    root: str | os.PathLike | None = None,
    max_thumbs_per_rule: int = MAX_THUMBS_PER_RULE,
    max_thumbs: int = MAX_THUMBS,
    max_groups: int = MAX_GROUPS,
    max_group_members: int = MAX_GROUP_MEMBERS,
    max_listed: int = MAX_LISTED,
    max_classes: int = MAX_CLASSES,
    thumb_size: int = THUMB_SIZE,
    workers: int | None = None,
    title: str | None = None,
) -> tuple[str, HtmlReport]:
    """Make the report page for a manifest (a parquet path, or an Arrow table with dis_audit metadata).

    ``root`` overrides where relative paths resolve (default: the root the scan recorded, or
    the manifest's folder). Returns the page and its statistics (``path`` None). Raises
    ManifestError for an unreadable manifest and ReportError for an unusable table; bad image
    files never raise, they become placeholders.
    """
    started = time.perf_counter()
    table, meta, base, label = _load(source, root)
    builder = _Builder(
        table, meta, base, label,
        max_thumbs_per_rule=max_thumbs_per_rule, max_thumbs=max_thumbs, max_groups=max_groups,
        max_group_members=max_group_members, max_listed=max_listed, max_classes=max_classes,
        thumb_size=thumb_size, workers=workers, title=title,
    )
    page = builder.build()
    stats = HtmlReport(
        path=None,
        size_bytes=len(page.encode("utf-8")),
        rows=table.num_rows,
        findings=len(builder.findings),
        thumbnails=sum(1 for t in builder.thumbs.values() if t.jpeg is not None),
        thumbnail_s=round(builder.thumbnail_s, 3),
        elapsed_s=round(time.perf_counter() - started, 3),
    )
    return page, stats


def render_html(
    source: str | os.PathLike | pa.Table,
    out_path: str | os.PathLike,
    **options: Any,
) -> HtmlReport:
    """Write the report for ``source`` to ``out_path`` atomically; options as for ``build_html``.

    Raises ManifestError (manifest missing or unreadable) or ReportError (output not writable).
    """
    started = time.perf_counter()
    out = Path(out_path)
    if out.is_dir():
        raise ReportError(f"HTML output path is a folder: {out}")
    page, stats = build_html(source, **options)
    data = page.encode("utf-8")
    try:
        atomic_write_bytes(out, lambda tmp: Path(tmp).write_bytes(data))
    except OSError as exc:
        raise ReportError(f"cannot write {out}: {exc.strerror or exc}") from exc
    stats.path = out
    stats.size_bytes = len(data)
    stats.elapsed_s = round(time.perf_counter() - started, 3)
    return stats


__all__ = ["HtmlReport", "ReportError", "build_html", "render_html", "split_of"]
