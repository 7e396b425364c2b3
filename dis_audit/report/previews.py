"""Which samples the HTML page shows as previews, making them, and their markup.

Previews are reserved in priority order (rule examples, errors first, then duplicate groups,
leaks first) under a total cap; every reservation that misses the cap becomes a placeholder
that says so. The JPEGs are made in one batch (a process pool for many) by ``thumbs``.
"""

from __future__ import annotations

import base64
import os
import time
from dataclasses import dataclass, field

from .markup import esc
from .model import DupGroup, ReportModel, RuleGroup
from .thumbs import Thumb, ThumbJob, make_thumbs


@dataclass(frozen=True)
class PageLimits:
    """Caps that keep the page a few MB whatever the manifest's size (see ``build_html``)."""

    thumbs_per_rule: int
    thumbs: int
    groups: int
    group_members: int
    listed: int
    classes: int
    thumb_size: int

    @classmethod
    def clamped(
        cls, *, thumbs_per_rule: int, thumbs: int, groups: int, group_members: int, listed: int, classes: int,
        thumb_size: int,
    ) -> PageLimits:
        """Limits with negative values read as 0 (and at least one member per group, one class)."""
        return cls(
            max(0, thumbs_per_rule), max(0, thumbs), max(0, groups), max(1, group_members), max(0, listed),
            max(1, classes), thumb_size,
        )


@dataclass
class Card:
    """One example on the page: one or more samples shown side by side, with the finding's text."""

    title: str
    message: str
    keys: list[str | None]  # preview keys, one per shown file (None: no preview possible)
    captions: list[str]
    extra: int = 0  # related files not shown


@dataclass
class _Reservations:
    """Previews to make, in priority order, under the total cap."""

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


#: Findings whose previews add the mask at its best-fitting placement.
BEST_FIT_CODES = frozenset({"DA608"})


class Previews:
    """The previews of one page: reserve them while planning, ``make`` them at once, then draw figures."""

    def __init__(self, model: ReportModel, root: os.PathLike | str, limits: PageLimits, workers: int | None) -> None:
        self.model = model
        self.root = root
        self.limits = limits
        self.workers = workers
        self.reserved = _Reservations(limits.thumbs)
        self.thumbs: dict[str, Thumb] = {}
        self.elapsed_s = 0.0

    @property
    def skipped(self) -> int:
        """Previews wanted beyond the total cap."""
        return self.reserved.skipped

    @property
    def made(self) -> int:
        """Previews that hold an image."""
        return sum(1 for t in self.thumbs.values() if t.jpeg is not None)

    def _abs(self, rel: str) -> str:
        return os.path.join(self.root, rel)

    # --------------------------------------------------------------- planning

    def for_row(self, row: int, best_fit: bool = False) -> str | None:
        """Reserve the preview of a sample (image beside image + mask; and the mask at its best fit)."""
        image, mask = self.model.image_paths[row], self.model.mask_paths[row]
        job = ThumbJob(self._abs(image), self._abs(mask) if mask else None, self.limits.thumb_size,
                       best_fit=best_fit and mask is not None)
        return self.reserved.want(f"{'fit' if job.best_fit else 'row'}:{row}", job)

    def for_path(self, path: str, best_fit: bool = False) -> tuple[str | None, str]:
        """A preview key for a finding's path and a caption; folders and non-files get no preview."""
        row = self.model.row_of.get(path)
        if row is not None:
            return self.for_row(row, best_fit), self.model.image_paths[row]
        full = self._abs(path)
        if os.path.isfile(full):
            # A file outside the manifest's samples (an orphan mask, say): show the file alone.
            job = ThumbJob(full, None, self.limits.thumb_size)
            return self.reserved.want(f"file:{path}", job, ("not a sample in the manifest",)), path
        return None, path

    def plan_cards(self, groups: list[RuleGroup]) -> dict[str, list[Card]]:
        """The first N findings of each rule as cards; rules come worst first, so errors win the cap."""
        per_rule, others_shown = self.limits.thumbs_per_rule, self.limits.group_members - 1
        cards: dict[str, list[Card]] = {}
        for group in groups:
            out: list[Card] = []
            # A pair finding is reported on both members (A ~ B and B ~ A): draw each set of samples once.
            drawn: set[frozenset[object]] = set()
            for f in group.findings:
                if len(out) >= per_rule:
                    break
                base_row = self.model.row_of.get(f.path)
                if f.related:
                    members = frozenset(self.model.row_of.get(p, p) for p in (f.path, *f.related))
                    if members in drawn:
                        continue
                    drawn.add(members)
                # A misregistered mask is shown a third time, moved to where it fits best.
                key, caption = self.for_path(f.path, best_fit=f.code in BEST_FIT_CODES)
                keys, captions = [key], [caption]
                # Related files of another sample (a duplicate, a leaked copy) are shown beside it;
                # a mask finding's related image is the same sample and adds nothing.
                others = []
                for rel in f.related:
                    row = self.model.row_of.get(rel)
                    if row is not None and row == base_row:
                        continue
                    others.append(rel)
                for rel in others[:others_shown]:
                    rkey, rcap = self.for_path(rel)
                    keys.append(rkey)
                    captions.append(rcap)
                out.append(Card(f.path, f.message, keys, captions, max(0, len(others) - others_shown)))
            cards[group.code] = out
        return cards

    def plan_dup_groups(self, groups: list[DupGroup]) -> dict[int, list[str | None]]:
        """Preview keys of the shown members of the shown duplicate groups, by group id."""
        return {
            g.id: [self.for_row(r) for r in g.rows[: self.limits.group_members]] for g in groups[: self.limits.groups]
        }

    # --------------------------------------------------------------- making

    def make(self) -> None:
        """Decode and shrink every reserved preview (in a process pool when there are many)."""
        keys = list(self.reserved.jobs)
        started = time.perf_counter()
        made = make_thumbs([self.reserved.jobs[k] for k in keys], self.workers)
        self.elapsed_s = time.perf_counter() - started
        for key, thumb in zip(keys, made):
            notes = self.reserved.static_notes.get(key)
            if notes:
                # For a lone file, 'mask: none' is not news; say what it is instead.
                kept = tuple(n for n in thumb.notes if n != "mask: none") + notes
                thumb = Thumb(thumb.jpeg, thumb.width, thumb.height, kept)
            self.thumbs[key] = thumb

    # --------------------------------------------------------------- markup

    def figure(self, key: str | None, caption: str, reason_if_none: str) -> str:
        """One preview with its caption; a text placeholder where there is no image."""
        cap = f'<figcaption><span class="path">{esc(caption)}</span>'
        if key is None:
            return f'<figure class="thumb"><div class="ph">{esc(reason_if_none)}</div>{cap}</figcaption></figure>'
        thumb = self.thumbs.get(key)
        notes = "".join(f'<span class="note">{esc(n)}</span>' for n in (thumb.notes if thumb else ()))
        if thumb is None or thumb.jpeg is None:
            return f'<figure class="thumb"><div class="ph">no preview</div>{cap}{notes}</figcaption></figure>'
        data = base64.b64encode(thumb.jpeg).decode("ascii")
        alt = f"Preview of {caption}: the image, then the image with its mask tinted magenta and outlined"
        return (
            f'<figure class="thumb"><img src="data:image/jpeg;base64,{data}" width="{thumb.width}" '
            f'height="{thumb.height}" alt="{esc(alt)}">{cap}{notes}</figcaption></figure>'
        )

    def card(self, card: Card) -> str:
        """A finding's card: its previews side by side and its message."""
        figs = "".join(self.figure(key, cap, self._why_no_preview(cap)) for key, cap in zip(card.keys, card.captions))
        extra = f'<p class="muted">+ {card.extra:,} more related files</p>' if card.extra else ""
        return f'<li class="card"><div class="strip">{figs}</div><p class="msg">{esc(card.message)}</p>{extra}</li>'

    def _why_no_preview(self, path: str) -> str:
        if path in self.model.row_of or os.path.isfile(self._abs(path)):
            return "preview limit reached"
        if os.path.isdir(self._abs(path)):
            return "a folder"
        return "file not found"
