"""Text from the data made safe for the HTML page.

Everything that comes from the data (file names, class names, messages) goes through ``esc``
before it reaches the page; names may hold ``<``, ``&``, quotes, control characters and
undecodable bytes.
"""

from __future__ import annotations

import html
import re

# C0/C1 control characters other than tab and newline: not allowed in HTML text, and a trick in file names.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def printable_text(value: object) -> str:
    """``value`` as text that is valid UTF-8 and free of control characters (escaped as ``\\xNN``)."""
    text = str(value)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        # Undecodable file names arrive as surrogate escapes; show their bytes as \xNN like display_path does.
        try:
            text = text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
        except UnicodeEncodeError:
            text = text.encode("utf-8", "backslashreplace").decode("utf-8")
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", text)


def esc(value: object) -> str:
    """Escape data for HTML text and attribute values (quotes included)."""
    return html.escape(printable_text(value), quote=True)


def bar(width_percent: float, kind: str = "ok") -> str:
    """One segment of a CSS bar chart (``ok`` blue, ``neg`` red, ``low`` amber)."""
    return f'<span class="seg {kind}" style="width:{width_percent:.2f}%"></span>'


def bar_cell(*segments: str) -> str:
    """A table cell holding a bar of ``segments``; hidden from screen readers (the numbers are in the row)."""
    return f'<td class="barcell" aria-hidden="true"><div class="bar">{"".join(segments)}</div></td>'
