"""Text from the data made safe for the HTML page.

Everything that comes from the data (file names, class names, messages) goes through ``esc``
before it reaches the page; names may hold ``<``, ``&``, quotes, control characters and
undecodable bytes.
"""

from __future__ import annotations

import html

from ..paths import printable_text


def esc(value: object) -> str:
    """Escape data for HTML text and attribute values (quotes included)."""
    return html.escape(printable_text(value), quote=True)


def bar(width_percent: float, kind: str = "ok") -> str:
    """One segment of a CSS bar chart (``ok`` blue, ``neg`` red, ``low`` amber)."""
    return f'<span class="seg {kind}" style="width:{width_percent:.2f}%"></span>'


def bar_cell(*segments: str) -> str:
    """A table cell holding a bar of ``segments``; hidden from screen readers (the numbers are in the row)."""
    return f'<td class="barcell" aria-hidden="true"><div class="bar">{"".join(segments)}</div></td>'
