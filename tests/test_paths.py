"""dis_audit.paths: relative paths from users' files checked, odd paths made printable."""

from __future__ import annotations

import os

import pytest

from dis_audit.paths import UnsafePathError, check_relative_path, display_path, printable_text


@pytest.mark.parametrize("bad", [
    "", "/etc/passwd", "C:x", "//host/x", "../x", "a/../../x", "a/./b", "a//b", "a/", ".", "..",
    "a\\..\\x", "a\x00b", "a\nb", "a\x7fb",
])
def test_check_relative_path_refuses(bad):
    with pytest.raises(UnsafePathError):
        check_relative_path(bad, "key")


def test_check_relative_path_names_the_path_in_the_message():
    with pytest.raises(UnsafePathError, match=r"^plan row 3 '\.\./x' has an empty, '\.' or '\.\.' component$"):
        check_relative_path("../x", "plan row 3")
    assert check_relative_path("DS/im/..a b#c.jpg") == "DS/im/..a b#c.jpg"  # '..' inside a name is fine


def test_display_path_shows_undecodable_bytes():
    name = os.fsdecode(b"DS/im/caf\xe9.jpg")  # a Latin-1 name on a UTF-8 system: a surrogate escape
    assert display_path(name) == "DS/im/caf\\xe9.jpg"
    assert display_path("DS/im/café\t.jpg") == "DS/im/café\t.jpg"  # only undecodable bytes change


def test_printable_text_escapes_control_characters_and_bytes():
    name = os.fsdecode(b"a\xff\x1bb\x85c")
    assert printable_text(name) == "a\\xff\\x1bb\\x85c"
    assert printable_text("tab\tnew\nline é") == "tab\tnew\nline é"
    assert printable_text("lone \ud800 surrogate") == "lone \\ud800 surrogate"
    assert printable_text(42) == "42"
